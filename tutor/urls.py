from django.urls import path

from tutor import views

app_name = "tutor"

urlpatterns = [
    path("", views.home, name="home"),
    path("sessions/<int:session_id>/", views.session_detail, name="session-detail"),
    path("review/", views.review_page, name="review"),
    path("review/grade/", views.review_grade, name="review-grade"),
    path("test/", views.written_test, name="written-test"),
    path("test/submit/", views.written_test_submit, name="written-test-submit"),
    path("test/results/<int:result_id>/", views.written_test_result, name="written-test-result"),
]
