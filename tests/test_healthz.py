import pytest
from channels.layers import get_channel_layer

pytestmark = pytest.mark.django_db(transaction=True)


async def test_it_reports_database_and_channel_layer(async_client):
    response = await async_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "channel_layer": "ok"}


async def test_a_broken_channel_layer_is_a_503_not_a_crash(async_client, monkeypatch):
    layer = get_channel_layer()

    async def refuse(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(layer, "send", refuse)
    response = await async_client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["channel_layer"] == "unavailable"
    assert response.json()["database"] == "ok"
    # pages keep being served
    assert (await async_client.get("/")).status_code == 200


def test_every_page_carries_a_content_security_policy(client):
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy
