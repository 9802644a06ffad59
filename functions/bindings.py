"""/api/apps/{app}/bindings and /api/apps/{app}/certificates: SSL bindings of an app's hostnames to
linked certificates, and linking a certificate to an App Service app."""
from __future__ import annotations

import azure.functions as func

from functions import shapes
from functions.http import endpoint, field, json_response, page_request, page_response, read_json, route
from shared import principal as roles
from shared.appservice.linking import AppLinkRequest, link_to_app
from shared.composition import get_context
from shared.errors import BadRequest
from shared.links import BindingRequest, delete_binding, put_binding
from shared.model import validate_app
from shared.overview import link_overview

bp = func.Blueprint()


@bp.route(route="apps/{app}/bindings/{hostname}", methods=["PUT"])
@endpoint(roles.WRITE)
def put_binding_http(req: func.HttpRequest) -> func.HttpResponse:
    body = read_json(req, required={"link"}, optional={"sslState", "slot"})
    request = BindingRequest(
        app=route(req, "app"),
        hostname=route(req, "hostname"),
        link=field(body, "link", str),
        ssl_state=field(body, "sslState", str, "SniEnabled"),
        slot=field(body, "slot", str, ""),
    )
    binding, created = put_binding(get_context(), request)
    return json_response(shapes.binding(binding), 201 if created else 200)


@bp.route(route="apps/{app}/certificates", methods=["POST"])
@endpoint(roles.WRITE)
def link_to_app_http(req: func.HttpRequest) -> func.HttpResponse:
    body = read_json(req, required={"certificate", "resourceGroup"}, optional={"subscription", "slot", "hostnames"})
    hostnames = field(body, "hostnames", list, [])
    if len(hostnames) > 100 or not all(isinstance(h, str) for h in hostnames):
        raise BadRequest("hostnames must be a list of at most 100 strings", code="InvalidField")
    request = AppLinkRequest(
        app=route(req, "app"),
        certificate=field(body, "certificate", str),
        resource_group=field(body, "resourceGroup", str),
        subscription=field(body, "subscription", str, ""),
        slot=field(body, "slot", str, ""),
        hostnames=tuple(hostnames),
    )
    ctx = get_context()
    link, _ = link_to_app(ctx, request)
    return json_response(shapes.link_state(link_overview(ctx, link.name)), 201, {"Location": f"/api/links/{link.name}"})


@bp.route(route="apps/{app}/bindings", methods=["GET"])
@endpoint(roles.READ)
def list_bindings_http(req: func.HttpRequest) -> func.HttpResponse:
    app = validate_app(route(req, "app"))
    top, token = page_request(req, default=100, maximum=1000)
    page = get_context().bindings.page_for_app(app, top, token)
    return page_response(req, [shapes.binding(b) for b in page.items], page.next_token)


@bp.route(route="apps/{app}/bindings/{hostname}", methods=["DELETE"])
@endpoint(roles.WRITE)
def delete_binding_http(req: func.HttpRequest) -> func.HttpResponse:
    delete_binding(get_context(), route(req, "app"), route(req, "hostname"))
    return func.HttpResponse(status_code=204)
