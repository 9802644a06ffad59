"""/api/links: linked private certificates imported from Key Vault."""
from __future__ import annotations

import azure.functions as func

from functions import shapes
from functions.accepted import accepted
from functions.http import endpoint, field, json_response, page_request, page_response, read_json, requested_by, route
from shared import principal as roles
from shared.composition import get_context
from shared.links import DEFAULT_SCOPE, NewLink, create_link, delete_link
from shared.model import validate_name
from shared.overview import link_overview
from shared.sync.handlers import start_link_sync

bp = func.Blueprint()


@bp.route(route="links", methods=["POST"])
@endpoint(roles.WRITE)
def create_link_http(req: func.HttpRequest) -> func.HttpResponse:
    body = read_json(req, required={"name"}, optional={"scope", "certificate", "keyVaultSecretId"})
    spec = NewLink(
        name=field(body, "name", str),
        scope=field(body, "scope", str, DEFAULT_SCOPE),
        certificate=field(body, "certificate", str),
        key_vault_secret_id=field(body, "keyVaultSecretId", str),
    )
    link = create_link(get_context(), spec)
    return json_response(shapes.link(link), 201, {"Location": f"/api/links/{link.name}"})


@bp.route(route="links", methods=["GET"])
@endpoint(roles.READ)
def list_links_http(req: func.HttpRequest) -> func.HttpResponse:
    top, token = page_request(req, default=100, maximum=1000)
    page = get_context().links.page(top, token)
    return page_response(req, [shapes.link(link) for link in page.items], page.next_token)


@bp.route(route="links/{name}", methods=["GET"])
@endpoint(roles.READ)
def get_link_http(req: func.HttpRequest) -> func.HttpResponse:
    state = link_overview(get_context(), validate_name(route(req, "name"), "link name"))
    return json_response(shapes.link_state(state))


@bp.route(route="links/{name}", methods=["DELETE"])
@endpoint(roles.WRITE)
def delete_link_http(req: func.HttpRequest) -> func.HttpResponse:
    delete_link(get_context(), validate_name(route(req, "name"), "link name"))
    return func.HttpResponse(status_code=204)


@bp.route(route="links/{name}/sync", methods=["POST"])
@endpoint(roles.WRITE)
def sync_link_http(req: func.HttpRequest) -> func.HttpResponse:
    name = validate_name(route(req, "name"), "link name")
    read_json(req)
    return accepted(start_link_sync(get_context(), name, requested_by(req)))
