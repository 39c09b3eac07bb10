"""A DeepRacer on AWS (DRoA) double for the local cloud, built from DRoA's published contract
(its env.js, Cognito sign-in, upload bucket, `POST /importmodel`, `GET /models/{id}` and what
the import workflow reads), not from Pitwall's code: it shares no module with Pitwall's client.

- moto's Cognito user pool (one user) and identity pool, and the upload bucket (objects expire
  after one day, as DRoA's do);
- a loopback HTTP server (127.0.0.1, a free port, one thread per request): `/env.js`, and the API
  under `/api`: WAF first (a browser User-Agent, else 403), then IAM (a SigV4 `execute-api`
  Authorization with a session token, else 403), then the request's rules (400): the name and
  description, and what the API reads from the uploaded files before it creates the model (the
  track, race type, algorithm and action space);
- the import workflow: a model is IMPORTING for `import_seconds` of the local clock, then the
  reward function and the model files are checked and it becomes READY or ERROR
  (importErrorMessage). The tracks are DRoA's published list (`droa_tracks.txt`); a track driven
  one way only ignores TRACK_DIRECTION_CLOCKWISE, as DRoA does.

Fault switches for tests: `faults.waf_block` (every API call 403), `faults.server_errors` (the
next n API calls 503), `set_password` (the stored secret no longer matches).
"""

from __future__ import annotations

import ast
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any

import boto3
import yaml

USER_NAME = "racer"
PASSWORD = "Pitwall-local-1!"  # nosec B105 - the local DRoA double's test user, nothing real
NAME = re.compile(r"[a-zA-Z0-9-]+")  # whole strings (fullmatch), as JavaScript's ^...$ are
DESCRIPTION = re.compile(r"[a-zA-Z0-9- ]+")
UPLOADS = "uploads/models/"
CHECKPOINT_INDEX = re.compile(r"^model/(\d+)_Step-(\d+)\.ckpt\.index$")
STEERING_LIMIT = 30.0
SPEED_RANGE = (0.5, 4.0)


@dataclass
class DroaFaults:
    waf_block: bool = False
    server_errors: int = 0  # the next n API calls answer 503


@dataclass
class ImportedModel:
    model_id: str
    name: str
    description: str | None
    s3_path: str
    ready_at: float
    status: str = "IMPORTING"
    import_error_message: str | None = None


TRACKS_FILE = Path(__file__).with_name("droa_tracks.txt")
CLOCKWISE, COUNTER_CLOCKWISE = "CLOCKWISE", "COUNTER_CLOCKWISE"
# what DRoA's API allows for object avoidance (its validateObjectAvoidanceConfig)
MAX_OBSTACLES = 6
FIRST_OBSTACLE_BUFFER, LAST_OBSTACLE_BUFFER, MIN_OBSTACLE_DISTANCE = 0.07, 0.9, 0.13


def load_tracks(path: Path = TRACKS_FILE) -> dict[str, set[str]]:
    """DRoA's published tracks: id -> the directions it offers (CLOCKWISE, COUNTER_CLOCKWISE)."""
    tracks: dict[str, set[str]] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            track_id, *directions = line.split()
            tracks[track_id] = set(directions)
    return tracks


def _number(value: Any) -> float:
    """A value as JavaScript's comparisons see it: a number, else NaN (every comparison false)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


class DroaDouble:
    def __init__(
        self,
        *,
        region: str,
        clock: Callable[[], float],
        import_seconds: float = 90.0,
        stack_name: str = "droa",
    ) -> None:
        self.region = region
        self.clock = clock
        self.tracks = load_tracks()
        self.import_seconds = import_seconds
        self.upload_bucket = f"{stack_name}-uploads-{uuid.uuid4().hex[:8]}"
        self.faults = DroaFaults()
        self.models: dict[str, ImportedModel] = {}
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status), for tests
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.user_pool_id = ""
        self.client_id = ""
        self.identity_pool_id = ""

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> DroaDouble:
        idp = boto3.client("cognito-idp", region_name=self.region)
        self.user_pool_id = idp.create_user_pool(PoolName="droa-users")["UserPool"]["Id"]
        self.client_id = idp.create_user_pool_client(
            UserPoolId=self.user_pool_id,
            ClientName="droa-web",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
        )["UserPoolClient"]["ClientId"]
        idp.admin_create_user(
            UserPoolId=self.user_pool_id,
            Username=USER_NAME,
            TemporaryPassword="Temporary-1!",
            MessageAction="SUPPRESS",
        )
        self.set_password(PASSWORD)
        self.identity_pool_id = boto3.client(
            "cognito-identity", region_name=self.region
        ).create_identity_pool(
            IdentityPoolName="droa_identities",
            AllowUnauthenticatedIdentities=False,
            CognitoIdentityProviders=[
                {
                    "ProviderName": f"cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}",
                    "ClientId": self.client_id,
                }
            ],
        )["IdentityPoolId"]
        s3 = boto3.client("s3", region_name=self.region)
        s3.create_bucket(Bucket=self.upload_bucket)
        s3.put_bucket_lifecycle_configuration(
            Bucket=self.upload_bucket,
            LifecycleConfiguration={
                "Rules": [
                    {
                        "ID": "ExpireUploads",
                        "Status": "Enabled",
                        "Filter": {"Prefix": UPLOADS},
                        "Expiration": {"Days": 1},
                    }
                ]
            },
        )
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="droa-double", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def site_url(self) -> str:
        assert self._server is not None, "start() the double first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.site_url}/api"

    def set_password(self, password: str) -> None:
        boto3.client("cognito-idp", region_name=self.region).admin_set_user_password(
            UserPoolId=self.user_pool_id, Username=USER_NAME, Password=password, Permanent=True
        )

    def env_js(self) -> str:
        config = {
            "apiEndpointUrl": self.api_url,
            "userPoolId": self.user_pool_id,
            "userPoolClientId": self.client_id,
            "identityPoolId": self.identity_pool_id,
            "region": self.region,
            "uploadBucketName": self.upload_bucket,
        }
        return f"window.EnvironmentConfig = {json.dumps(config, indent=2)};\n"

    # -- the API ----------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        """(status, JSON answer) of one API request; `path` without the /api prefix."""
        if "Mozilla/" not in headers.get("user-agent", "") or self.faults.waf_block:
            return 403, {"message": "Forbidden"}  # the WAF's bot control
        with self._lock:
            if self.faults.server_errors > 0:
                self.faults.server_errors -= 1
                return 503, {"message": "Service Unavailable"}
        authorization = headers.get("authorization", "")
        if not (
            authorization.startswith("AWS4-HMAC-SHA256 ")
            and "/execute-api/aws4_request" in authorization
            and headers.get("x-amz-security-token")
        ):
            return 403, {"message": "Missing Authentication Token"}
        if method == "POST" and path == "/importmodel":
            return self._import(body)
        if method == "GET" and (match := re.fullmatch(r"/models/([^/]+)", path)):
            return self._model(match.group(1))
        return 404, {"message": "Not Found"}

    def _import(self, body: bytes) -> tuple[int, Any]:
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return 400, {"message": "body is not JSON"}
        name, description = request.get("modelName"), request.get("modelDescription")
        if request.get("s3Bucket") != self.upload_bucket:
            return 400, {"message": f"s3Bucket must be {self.upload_bucket}"}
        if not str(request.get("s3Path", "")).startswith(UPLOADS):
            return 400, {"message": f"s3Path must be under {UPLOADS}"}
        if not isinstance(name, str) or not NAME.fullmatch(name) or len(name) > 64:
            return 400, {"message": "modelName must match ^[a-zA-Z0-9-]+$ (at most 64)"}
        if description is not None and not (
            isinstance(description, str) and DESCRIPTION.fullmatch(description) and len(description) <= 255
        ):
            return 400, {"message": "modelDescription must match ^[a-zA-Z0-9- ]+$ (at most 255)"}
        s3_path = str(request["s3Path"]).rstrip("/") + "/"
        problem = self.check_request(self._read(s3_path))
        if problem:  # what the API itself checks before it creates the model
            return 400, {"message": problem}
        model = ImportedModel(
            model_id=uuid.uuid4().hex,
            name=name,
            description=description,
            s3_path=s3_path,
            ready_at=self.clock() + self.import_seconds,
        )
        with self._lock:
            self.models[model.model_id] = model
        return 200, {"modelId": model.model_id}

    def _model(self, model_id: str) -> tuple[int, Any]:
        with self._lock:
            model = self.models.get(model_id)
        if model is None:
            return 404, {"message": f"model {model_id} not found"}
        if model.status == "IMPORTING" and self.clock() >= model.ready_at:
            problem = self.check_workflow(self._read(model.s3_path))
            model.status = "ERROR" if problem else "READY"
            model.import_error_message = problem
        answer: dict[str, Any] = {"modelId": model.model_id, "modelName": model.name, "status": model.status}
        if model.import_error_message:
            answer["importErrorMessage"] = model.import_error_message
        return 200, {"model": answer}

    def _read(self, s3_path: str) -> dict[str, bytes]:
        s3 = boto3.client("s3", region_name=self.region)
        files: dict[str, bytes] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.upload_bucket, Prefix=s3_path):
            for item in page.get("Contents", []):
                relative = item["Key"][len(s3_path) :]
                if relative.endswith((".gz", ".zip")):
                    continue  # the import skips them
                files[relative] = s3.get_object(Bucket=self.upload_bucket, Key=item["Key"])["Body"].read()
        return files

    # -- the import workflow's rules --------------------------------------------------------------

    def check_import(self, files: dict[str, bytes]) -> str | None:
        """The first rule the uploaded files break, the API's or the workflow's; None: READY."""
        return self.check_request(files) or self.check_workflow(files)

    def check_request(self, files: dict[str, bytes]) -> str | None:
        """What POST /importmodel checks before it creates the model (a 400 with this message):
        the files, the track, the race type, the algorithm and the action space."""
        for required in (
            "training_params.yaml",
            "model_metadata.json",
            "reward_function.py",
            "ip/hyperparameters.json",
        ):
            if required not in files:
                return f"Missing required file {required}"
        try:
            params = yaml.safe_load(files["training_params.yaml"])
            metadata = json.loads(files["model_metadata.json"])
            hyperparameters = json.loads(files["ip/hyperparameters.json"])
        except (yaml.YAMLError, ValueError) as exc:
            return f"Cannot parse the model files: {exc}"
        if not isinstance(params, dict):
            return "training_params.yaml is not a mapping"
        return (
            self._track_problem(params)
            or self._race_problem(params)
            or _algorithm_problem(metadata, hyperparameters)
        )

    def check_workflow(self, files: dict[str, bytes]) -> str | None:
        """What the import workflow checks while the model is IMPORTING (ERROR with this message):
        the reward function, and the model files it copies."""
        return _reward_problem(files.get("reward_function.py", b"")) or _checkpoint_problem(files)

    def _track_problem(self, params: dict[str, Any]) -> str | None:
        """DRoA's track config from WORLD_NAME and TRACK_DIRECTION_CLOCKWISE: a one-way track is
        driven its own way (the flag is not read); otherwise only a real `true` is clockwise,
        anything else counter-clockwise. The track must offer that direction."""
        track_id = params.get("WORLD_NAME")
        directions = self.tracks.get(track_id) if isinstance(track_id, str) else None
        if directions is not None and len(directions) == 1:
            direction = next(iter(directions))
        else:
            direction = CLOCKWISE if params.get("TRACK_DIRECTION_CLOCKWISE") is True else COUNTER_CLOCKWISE
        if directions is None or direction not in directions:
            return f"Invalid track configuration. Track {track_id} is not available in direction {direction}."
        return None

    @staticmethod
    def _race_problem(params: dict[str, Any]) -> str | None:
        """DRoA's object-avoidance checks: 1 to 6 obstacles; positions ("pct, lane", read only when
        not randomized) as many as the obstacles, the first at >= 7% of the lap, the last at
        <= 90%, each 13% after the one before."""
        if params.get("RACE_TYPE") != "OBJECT_AVOIDANCE":
            return None
        count, positions = params.get("NUMBER_OF_OBSTACLES"), params.get("OBJECT_POSITIONS")
        if not count or _number(count) > MAX_OBSTACLES:
            return "Number of obstacle positions is invalid."
        if not positions or params.get("RANDOMIZE_OBSTACLE_LOCATIONS") is True:
            return None
        if not isinstance(positions, list):
            return f"OBJECT_POSITIONS must be a list of 'pct,lane', got {positions!r}"
        if count != len(positions):
            return "Obstacle positions must be equal to number of objects."
        percents = sorted(_number(str(p).split(",")[0].strip()) for p in positions)
        if percents[0] < FIRST_OBSTACLE_BUFFER:
            return "First obstacle position is invalid."
        if percents[-1] > LAST_OBSTACLE_BUFFER:
            return "Last obstacle position is invalid."
        if any(after - before < MIN_OBSTACLE_DISTANCE for before, after in pairwise(percents)):
            return "Obstacle position distances are invalid."
        return None


def _reward_problem(source: bytes) -> str | None:
    try:
        tree = ast.parse(source, "reward_function.py")
    except SyntaxError as exc:
        return f"Reward function is invalid: {exc.msg} (line {exc.lineno})"
    if not any(isinstance(node, ast.FunctionDef) and node.name == "reward_function" for node in tree.body):
        return "Reward function is invalid: no function named reward_function"
    return None


def _algorithm_problem(metadata: dict[str, Any], hyperparameters: dict[str, Any]) -> str | None:
    algorithm = str(metadata.get("training_algorithm", "clipped_ppo"))
    space_type = str(metadata.get("action_space_type", "discrete"))
    space = metadata.get("action_space")
    if algorithm == "sac":
        if space_type != "continuous":
            return "SAC requires a continuous action space"
        if hyperparameters.get("num_episodes_between_training") != 1:
            return "SAC requires num_episodes_between_training == 1"
    if space_type == "continuous":
        if not isinstance(space, dict):
            return "A continuous action space needs steering_angle and speed ranges"
        steering, speed = space.get("steering_angle") or {}, space.get("speed") or {}
        try:
            low, high = float(steering["low"]), float(steering["high"])
            slow, fast = float(speed["low"]), float(speed["high"])
        except (KeyError, TypeError, ValueError):
            return "A continuous action space needs steering_angle and speed low/high numbers"
        if not -STEERING_LIMIT <= low < high <= STEERING_LIMIT:
            return f"steering_angle range {low}..{high} is outside -30..30 or empty"
        if not SPEED_RANGE[0] <= slow < fast <= SPEED_RANGE[1]:
            return f"speed range {slow}..{fast} is outside 0.5..4 or empty"
    return None


def _checkpoint_problem(files: dict[str, bytes]) -> str | None:
    found = sorted(
        {m.group(0)[len("model/") : -len(".index")] for path in files if (m := CHECKPOINT_INDEX.match(path))}
    )
    if len(found) != 1:
        return f"model/ must hold exactly one checkpoint, found {len(found)}: {found}"
    name = found[0]
    number = name.split("_Step")[0]
    for required in (f"model/{name}.meta", f"model/{name}.data-00000-of-00001", f"model/model_{number}.pb"):
        if required not in files:
            return f"Checkpoint {name} is incomplete: {required} is missing"
    if files.get("model/.coach_checkpoint", b"").decode().strip() != name:
        return f"model/.coach_checkpoint must name {name}"
    try:
        checkpoints = json.loads(files.get("model/deepracer_checkpoints.json", b"{}"))
    except ValueError:
        return "model/deepracer_checkpoints.json is not JSON"
    for which in ("best_checkpoint", "last_checkpoint"):
        if (checkpoints.get(which) or {}).get("name") != name:
            return f"model/deepracer_checkpoints.json: {which} must be {name}"
    return None


def _handler(double: DroaDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read double.requests
            return

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            double.requests.append((self.command, self.path, status))

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.command == "GET" and self.path == "/env.js":
                self._answer(200, double.env_js().encode(), "application/javascript")
                return
            if not self.path.startswith("/api/"):
                self._answer(404, b"<html>not found</html>", "text/html")
                return
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, answer = double.handle(self.command, self.path[len("/api") :], headers, body)
            self._answer(status, json.dumps(answer).encode(), "application/json")

        do_GET = _serve
        do_POST = _serve

    return Handler
