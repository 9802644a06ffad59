"""A tiny app exercising every trigger the local host runs; tests/localhost drive it over HTTP."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import time

import azure.functions as func

from ops_blueprint import bp
from recording import record

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(bp)


def _json(payload: object, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(payload), status_code=status, headers=headers, mimetype="application/json")


@app.route(route="hello", methods=["GET", "POST"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"Hello, {req.params.get('name', 'world')}!")


@app.route(route="items/{id:int}", methods=["GET"])
def item_by_id(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"id": int(req.route_params["id"])})


@app.route(route="items/{name:alpha}", methods=["GET"])
def item_by_name(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"name": req.route_params["name"]})


@app.route(route="items/new", methods=["GET"])
def new_item_form(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"form": True})


@app.route(route="greet/{name?}", methods=["GET"])
def greet(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"name": req.route_params.get("name")})


@app.route(route="files/{*path}", methods=["GET"])
def files(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"path": req.route_params.get("path")})


@app.route(route="echo/{tag}", methods=["POST", "PUT"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    return _json(
        {
            "method": req.method,
            "url": req.url,
            "params": dict(req.params),
            "route": dict(req.route_params),
            "header": req.headers.get("x-test"),
            "json": req.get_json(),
        },
        status=201,
        headers={"X-Echo": "yes"},
    )


@app.route(route="record/{tag}", methods=["POST"])
def record_request(req: func.HttpRequest) -> func.HttpResponse:
    """Leaves a trace of every run, so tests can tell a request that never reached user code."""
    record("record_request", {"tag": req.route_params["tag"], "body": req.get_body().decode("latin-1")})
    return func.HttpResponse(status_code=201)


@app.route(route="boom", methods=["GET"])
def boom(req: func.HttpRequest) -> func.HttpResponse:
    logging.info("about to fail")
    raise RuntimeError("secret detail 12345")


@app.route(route="async/{value}", methods=["GET"])
async def async_route(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(0.01)
    return func.HttpResponse(f"async {req.route_params['value']}", mimetype="text/html", charset="latin-1")


@app.route(route="plain", methods=["GET"])
def plain(req: func.HttpRequest) -> str:
    return "just text"


@app.route(route="settings/{name}", methods=["GET"])
def setting(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    name = req.route_params["name"]
    return _json({"name": name, "value": os.environ.get(name), "function": context.function_name})


@app.route(route="enqueue", methods=["POST"])
@app.queue_output(arg_name="out", queue_name="%WORK_QUEUE%", connection="AzureWebJobsStorage")
def enqueue(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    out.set(req.get_body().decode("utf-8"))
    return func.HttpResponse(status_code=202)


@app.timer_trigger(arg_name="timer", schedule="%TICK_SCHEDULE%")
def tick(timer: func.TimerRequest) -> None:
    record("tick", {"past_due": timer.past_due, "next": timer.schedule_status.get("Next"), "pid": os.getpid()})


@app.timer_trigger(arg_name="timer", schedule="%TICK_SCHEDULE%")
def failing_tick(timer: func.TimerRequest) -> None:
    record("failing_tick", {})
    raise ValueError("timer failure")


@app.timer_trigger(arg_name="timer", schedule="%TICK_SCHEDULE%")
def slow_tick(timer: func.TimerRequest) -> None:
    start = time.time()
    time.sleep(1.2)
    record("slow_tick", {"start": start, "end": time.time()})


@app.timer_trigger(arg_name="timer", schedule="0 0 0 1 1 *")
def yearly(timer: func.TimerRequest) -> None:
    record("yearly", {"past_due": timer.past_due, "next": timer.schedule_status.get("Next")})


@app.function_name("work_queue")
@app.queue_trigger(arg_name="msg", queue_name="%WORK_QUEUE%", connection="AzureWebJobsStorage")
def work(msg: func.QueueMessage) -> None:
    body = msg.get_body().decode("utf-8")
    record(
        "work",
        {
            "body": body,
            "id": msg.id,
            "dequeue_count": msg.dequeue_count,
            "insertion_time": msg.insertion_time,
            "expiration_time": msg.expiration_time,
            "pop_receipt": msg.pop_receipt,
        },
    )
    if body.startswith("fail"):
        raise ValueError(f"cannot process {body}")
