"""The DRoA client (adapter): discover a DRoA site from its env.js, sign in as the racer
(Cognito user pool, then identity-pool credentials), upload a package into DRoA's upload bucket,
start the import and read the model's status.

DRoA's API takes IAM (SigV4, service `execute-api`) requests signed with the identity pool's
credentials and sits behind AWS WAF with bot control: requests carry a browser's headers (User-Agent,
origin and referer = the site, sec-fetch-*). The password and the credentials live in this object
only; neither is logged nor returned.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError

from pitwall import aws
from pitwall.droa import contract
from pitwall.errors import (
    DroaBlocked,
    DroaImportRejected,
    DroaSignInFailed,
    DroaUnavailable,
    NotADroaSite,
)

BROWSER_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
HTTP_TIMEOUT_SECONDS = 30
_SIGN_IN_REFUSED = {"NotAuthorizedException", "UserNotFoundException", "PasswordResetRequiredException"}
_THROTTLED = {"TooManyRequestsException", "ThrottlingException", "LimitExceededException"}
# the pools env.js names do not exist, or the web client does not allow USER_PASSWORD_AUTH
_NOT_DROAS_POOLS = {"ResourceNotFoundException", "InvalidParameterException"}


@dataclass(frozen=True)
class DroaEnvironment:
    """What a DRoA site's env.js publishes (window.EnvironmentConfig)."""

    api_endpoint_url: str
    user_pool_id: str
    user_pool_client_id: str
    identity_pool_id: str
    region: str
    upload_bucket_name: str


def parse_env_js(site_url: str, text: str) -> DroaEnvironment:
    """`window.EnvironmentConfig = {...}` -> its fields; NotADroaSite when any is missing."""
    if "EnvironmentConfig" not in text:
        raise NotADroaSite(
            f"{site_url}{contract.ENV_JS_PATH} has no window.EnvironmentConfig: not a DRoA site"
        )
    values: dict[str, str] = {}
    for name in contract.ENV_JS_FIELDS:
        match = re.search(rf"""["']?{name}["']?\s*:\s*["']([^"']+)["']""", text)
        if match:
            values[name] = match.group(1)
    missing = [name for name in contract.ENV_JS_FIELDS if name not in values]
    if missing:
        raise NotADroaSite(f"{site_url}{contract.ENV_JS_PATH}: EnvironmentConfig lacks {', '.join(missing)}")
    return DroaEnvironment(
        api_endpoint_url=values["apiEndpointUrl"].rstrip("/"),
        user_pool_id=values["userPoolId"],
        user_pool_client_id=values["userPoolClientId"],
        identity_pool_id=values["identityPoolId"],
        region=values["region"],
        upload_bucket_name=values["uploadBucketName"],
    )


def browser_headers(site_url: str) -> dict[str, str]:
    """What DRoA's WAF lets through: a browser's request from the site's own pages."""
    site = site_url.rstrip("/")
    return {
        "User-Agent": BROWSER_USER_AGENT,
        "Accept": "application/json, text/plain, */*",
        "Accept-Language": "en-US,en;q=0.9",
        "Origin": site,
        "Referer": site + "/",
        "Sec-Fetch-Site": "same-site",
        "Sec-Fetch-Mode": "cors",
        "Sec-Fetch-Dest": "empty",
    }


def _http_error(what: str, status: int, body: str) -> Exception:
    detail = body.strip()[:300] or "(no body)"
    if status == 403:
        return DroaBlocked(
            f"{what}: 403 {detail} - DRoA's WAF blocked the request (or the user may not call it)"
        )
    if status == 429 or status >= 500:
        return DroaUnavailable(f"{what}: {status} {detail}")
    return DroaImportRejected(f"{what}: {status} {detail}")


@dataclass
class DroaClient:
    site_url: str
    user_name: str
    password: str = field(repr=False)
    _environment: DroaEnvironment | None = field(default=None, repr=False)
    _credentials: dict[str, str] | None = field(default=None, repr=False)
    _s3: Any = field(default=None, repr=False)

    # -- discovery and sign-in ---------------------------------------------------------------

    def environment(self) -> DroaEnvironment:
        if self._environment is None:
            url = self.site_url.rstrip("/") + contract.ENV_JS_PATH
            status, body = self._send("GET", url, None, signed=False, what=f"GET {url}")
            if status != 200:
                raise NotADroaSite(f"GET {url}: {status}: not a DRoA site (no env.js)")
            self._environment = parse_env_js(self.site_url, body)
        return self._environment

    def sign_in(self) -> None:
        """An ID token from the user pool, then the identity pool's temporary credentials."""
        env = self.environment()
        idp = aws.unsigned_client("cognito-idp", env.region)
        identity = aws.unsigned_client("cognito-identity", env.region)
        try:
            answer = idp.initiate_auth(
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": self.user_name, "PASSWORD": self.password},
                ClientId=env.user_pool_client_id,
            )
            token = answer.get("AuthenticationResult", {}).get("IdToken")
            if not token:
                raise DroaSignInFailed(
                    f"DRoA user {self.user_name!r}: sign-in asks for {answer.get('ChallengeName')}; "
                    "finish it once in DRoA's web page"
                )
            logins = {f"cognito-idp.{env.region}.amazonaws.com/{env.user_pool_id}": token}
            identity_id = identity.get_id(IdentityPoolId=env.identity_pool_id, Logins=logins)["IdentityId"]
            credentials = identity.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in _SIGN_IN_REFUSED:
                raise DroaSignInFailed(
                    f"DRoA refused user {self.user_name!r} ({code}): "
                    "check the user name and the password secret"
                ) from exc
            if code in _THROTTLED or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
                raise DroaUnavailable(f"DRoA sign-in: {code}") from exc
            if code in _NOT_DROAS_POOLS:
                raise NotADroaSite(
                    f"{self.site_url}: the user or identity pool its env.js names does not take a "
                    f"password sign-in ({code}: {exc.response['Error'].get('Message', '')})"
                ) from exc
            raise
        except BotoCoreError as exc:
            raise DroaUnavailable(f"DRoA sign-in: {exc}") from exc
        found = credentials["Credentials"]
        self._credentials = {
            "AccessKeyId": found["AccessKeyId"],
            "SecretKey": found["SecretKey"],
            "SessionToken": found["SessionToken"],
        }

    def _signed_in(self) -> dict[str, str]:
        if self._credentials is None:
            self.sign_in()
        assert self._credentials is not None
        return self._credentials

    # -- upload and import -------------------------------------------------------------------

    def new_upload_path(self) -> str:
        return f"{contract.UPLOAD_PREFIX}{uuid.uuid4()}"

    def upload(self, s3_path: str, relative_path: str, body: IO[bytes]) -> None:
        env = self.environment()
        if self._s3 is None:  # one client for every file of the upload (credentials of this sign-in)
            self._s3 = aws.client_as("s3", env.region, self._signed_in())
        try:
            self._s3.upload_fileobj(body, env.upload_bucket_name, f"{s3_path}/{relative_path}")
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            raise _http_error(
                f"upload {relative_path}", status, exc.response["Error"].get("Message", "")
            ) from exc
        except BotoCoreError as exc:
            raise DroaUnavailable(f"upload {relative_path}: {exc}") from exc

    def import_model(self, s3_path: str, name: str, description: str | None) -> str:
        env = self.environment()
        body: dict[str, Any] = {"s3Bucket": env.upload_bucket_name, "s3Path": s3_path, "modelName": name}
        if description:
            body["modelDescription"] = description
        answer = self._api("POST", "/importmodel", body)
        model_id = answer.get("modelId")
        if not isinstance(model_id, str) or not model_id:
            raise DroaImportRejected(f"POST /importmodel answered no modelId: {answer}")
        return model_id

    def model(self, model_id: str) -> tuple[contract.ModelStatus, str | None]:
        """The model's status and importErrorMessage (None when there is none)."""
        answer = self._api("GET", f"/models/{model_id}", None).get("model") or {}
        try:
            status = contract.ModelStatus(str(answer.get("status")))
        except ValueError as exc:
            raise DroaImportRejected(
                f"GET /models/{model_id}: unknown status {answer.get('status')!r}"
            ) from exc
        message = answer.get("importErrorMessage")
        return status, str(message) if message else None

    # -- HTTP ----------------------------------------------------------------------------------

    def _api(self, method: str, path: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
        url = self.environment().api_endpoint_url + path
        status, text = self._send(method, url, body, signed=True, what=f"{method} {path}")
        if status != 200:
            raise _http_error(f"{method} {path}", status, text)
        try:
            answer = json.loads(text)
        except ValueError as exc:
            raise DroaUnavailable(f"{method} {path}: not JSON: {text[:200]}") from exc
        return answer if isinstance(answer, dict) else {}

    def _send(
        self, method: str, url: str, body: Mapping[str, Any] | None, *, signed: bool, what: str
    ) -> tuple[int, str]:
        data = json.dumps(body).encode() if body is not None else None
        headers = browser_headers(self.site_url)
        if data is not None:
            headers["Content-Type"] = "application/json"
        if signed:
            credentials = self._signed_in()
            request = AWSRequest(method=method, url=url, data=data, headers=headers)
            SigV4Auth(
                Credentials(
                    credentials["AccessKeyId"], credentials["SecretKey"], credentials["SessionToken"]
                ),
                "execute-api",
                self.environment().region,
            ).add_auth(request)
            headers = dict(request.headers.items())
        try:
            with urllib.request.urlopen(
                urllib.request.Request(url, data=data, headers=headers, method=method),
                timeout=HTTP_TIMEOUT_SECONDS,
            ) as answer:
                return int(answer.status), answer.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read().decode("utf-8", "replace")
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            if not signed:  # the site itself does not answer: most often a wrong URL
                raise NotADroaSite(f"{what}: {exc}: check the DRoA site URL") from exc
            raise DroaUnavailable(f"{what}: {exc}") from exc
