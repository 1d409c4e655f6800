"""What the two webhook endpoints' fuzz tests share: Hypothesis' settings, the strategies, the request and
the shape every answer must have (never a 5xx; JSON with a `detail` when refused)."""

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=200)


def post_signed(client, url: str, payload: bytes, signature: str | None, content_type: str = "application/json"):
    extra = {} if signature is None else {"HTTP_STRIPE_SIGNATURE": signature}
    return client.post(url, data=payload, content_type=content_type, **extra)


def assert_answer(response) -> None:
    assert response.status_code < 500, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert ("detail" in body) if response.status_code >= 400 else body.get("received") is True
