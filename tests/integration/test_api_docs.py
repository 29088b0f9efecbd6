"""The interactive API reference works on a network without internet access: /docs (Swagger UI)
and /redoc (ReDoc) load only scripts, styles and icons that the service itself serves."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest


class _AssetLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


def _asset_urls(page: str) -> list[str]:
    parser = _AssetLinks()
    parser.feed(page)
    return parser.urls


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_page_names_no_other_origin(client, path):
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert re.findall(r"(?:https?:)?//[\w.-]+\.\w+", r.text) == []


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_every_asset_of_the_docs_page_is_served_by_the_service_itself(client, path):
    urls = _asset_urls(client.get(path).text)
    assert urls, "the page loads its script, style and icon"
    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, url
        assert client.get(url).status_code == 200, url


def test_swagger_ui_loads_its_script_and_style_from_the_service(client):
    urls = _asset_urls(client.get("/docs").text)
    assert any(u.endswith("swagger-ui-bundle.js") for u in urls)
    assert any(u.endswith("swagger-ui.css") for u in urls)
    script = client.get(next(u for u in urls if u.endswith("swagger-ui-bundle.js")))
    assert "javascript" in script.headers["content-type"]
    assert "SwaggerUIBundle" in script.text


def test_swagger_ui_sends_the_specification_to_no_online_validator(client):
    assert "validatorUrl" in client.get("/docs").text
    assert re.search(r'"validatorUrl":\s*null', client.get("/docs").text)


def test_redoc_loads_its_bundle_from_the_service_and_no_web_fonts(client):
    page = client.get("/redoc").text
    urls = _asset_urls(page) + re.findall(r'<script src="([^"]+)"', page)
    assert any(u.endswith("redoc.standalone.js") for u in urls)
    assert "fonts.googleapis.com" not in page


def test_the_swagger_oauth2_redirect_page_still_answers(client):
    assert client.get("/docs/oauth2-redirect").status_code == 200


def test_the_docs_pages_are_not_listed_in_the_openapi_document(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert not any(p.startswith(("/docs", "/redoc")) for p in paths)


def test_the_openapi_document_describes_errors_as_the_problem_details_the_api_sends(client):
    document = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in str(document) and "Problem" in document["components"]["schemas"]
    operations = [op for path in document["paths"].values() for op in path.values() if "responses" in op]
    assert operations and all(
        op["responses"]["default"]["content"]["application/problem+json"]["schema"]["$ref"]
        == "#/components/schemas/Problem" for op in operations)
    validated = [op["responses"]["422"] for op in operations if "422" in op["responses"]]
    assert validated and all("application/problem+json" in r["content"] for r in validated)
    r = client.post("/v1/banks", json={"quota": 1.5})  # what the document promises is what comes back
    assert r.headers["content-type"].startswith("application/problem+json")


def test_money_and_ratios_are_described_as_decimal_strings(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    quota, apr = schemas["BankIn"]["properties"]["quota"], schemas["BankIn"]["properties"]["apr"]
    assert quota["type"] == "string" and quota["pattern"].startswith("^[0-9]{1,13}")
    assert apr["type"] == "string"
