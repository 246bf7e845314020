from django.urls import path

from tutor import onboarding_views, views

app_name = "tutor"

urlpatterns = [
    path("", views.home, name="home"),
    path("start/", onboarding_views.onboarding, name="onboarding"),
    path("start/placement/", onboarding_views.placement, name="placement"),
    path("lists/", onboarding_views.word_lists, name="lists"),
    path("lists/starter/", onboarding_views.starter_list_pick, name="starter-list-pick"),
    path("lists/import/", onboarding_views.own_list_upload, name="own-list-upload"),
    path("account/learning/", onboarding_views.learning_settings, name="learning-settings"),
    path("sessions/<int:session_id>/", views.session_detail, name="session-detail"),
    path("review/", views.review_page, name="review"),
    path("review/grade/", views.review_grade, name="review-grade"),
    path("test/", views.written_test, name="written-test"),
    path("test/submit/", views.written_test_submit, name="written-test-submit"),
    path("test/results/<int:result_id>/", views.written_test_result, name="written-test-result"),
]
