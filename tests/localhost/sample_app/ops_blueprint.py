"""A blueprint, registered with app.register_functions, as certsync's own triggers are."""
import azure.functions as func

from recording import record

bp = func.Blueprint()


@bp.route(route="ops/ping", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def ping(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("pong")


@bp.timer_trigger(arg_name="timer", schedule="00:00:01")
def heartbeat(timer: func.TimerRequest) -> None:
    """A TimeSpan schedule: every second after the previous run."""
    record("heartbeat", {"past_due": timer.past_due})
