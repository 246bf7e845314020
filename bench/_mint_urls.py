"""The project's URLs plus the minting benchmark's baseline: a view that only forwards."""

from django.conf import settings
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.http import require_POST

from config.urls import urlpatterns as project_urlpatterns
from voice import realtime


@require_POST
async def bare_forward(request):
    """No learner, no plan, no limits: one call to the same upstream, through the same client."""
    secret = await realtime.client_secret_create(
        session_config={"type": "realtime"},
        base_url=settings.REALTIME_BASE_URL,
        api_key=settings.OPENAI_API_KEY,
        ttl_seconds=settings.REALTIME_TOKEN_TTL_SECONDS,
    )
    return JsonResponse({"client_secret": secret.value, "expires_at": secret.expires_at})


urlpatterns = [path("bench/bare-forward/", bare_forward), *project_urlpatterns]
