"""A local push service (the part of Mozilla's autopush or Google's FCM that an application
server talks to), for tests: a real HTTP server on 127.0.0.1 that

* hands out subscriptions as a browser's ``PushManager.subscribe`` would: an endpoint on this
  server, a fresh P-256 key pair and a 16-byte auth secret (the "user agent" side), bound to
  the application server's VAPID public key given at subscribe time;
* takes ``POST /push/<token>`` only with a valid VAPID ``Authorization: vapid t=<JWT>, k=<key>``
  (RFC 8292): ``k`` must be the key the subscription was made for, the JWT must be ES256 and
  verify against it, ``aud`` must be this server's origin, ``exp`` in the future and at most
  24 hours away, ``sub`` a mailto: or https: contact; a ``TTL`` header; and
  ``Content-Encoding: aes128gcm`` with a body of at most 4096 bytes;
* decrypts the body itself per RFC 8291 / RFC 8188 (ECDH with the subscription's private key,
  HKDF with its auth secret, AES-128-GCM, padding delimiter), written here from the RFCs with
  ``cryptography`` and independent of the sender's ``http_ece``, and records the message;
* answers 201, or what a test asks for a subscription (410 gone, 500 a few times, ...), and
  404 for a subscription it never made.

Anything it refuses is recorded in ``rejected`` with the reason, so tests can assert none.
"""
from __future__ import annotations

import asyncio
import base64
import json
import secrets
import struct
import threading
import time
from dataclasses import dataclass, field

from aiohttp import web
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _point(key) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def decrypt_aes128gcm(body: bytes, ua_private: ec.EllipticCurvePrivateKey, auth_secret: bytes) -> bytes:
    """RFC 8291 section 3.4 / RFC 8188: the plaintext of a Web Push message; ValueError if it
    does not decrypt or is malformed."""
    if len(body) < 21:
        raise ValueError("shorter than the aes128gcm header")
    salt, rs, idlen = body[:16], struct.unpack("!I", body[16:20])[0], body[20]
    as_public = body[21:21 + idlen]
    if idlen != 65 or as_public[:1] != b"\x04":
        raise ValueError("the keyid is not the application server's uncompressed P-256 key")
    if rs < 18:
        raise ValueError("record size below 18")
    ciphertext = body[21 + idlen:]
    sender = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), as_public)
    ecdh_secret = ua_private.exchange(ec.ECDH(), sender)
    key_info = b"WebPush: info\x00" + _point(ua_private.public_key()) + as_public
    ikm = _hkdf(auth_secret, ecdh_secret, key_info, 32)
    cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
    records = [ciphertext[i:i + rs] for i in range(0, len(ciphertext), rs)] or [b""]
    plaintext = b""
    for seq, record in enumerate(records):
        iv = (int.from_bytes(nonce, "big") ^ seq).to_bytes(12, "big")
        try:
            data = AESGCM(cek).decrypt(iv, record, None)
        except InvalidTag:
            raise ValueError("the record does not decrypt (wrong keys or a changed body)") from None
        data = data.rstrip(b"\x00")
        last = seq == len(records) - 1
        if not data or data[-1:] != (b"\x02" if last else b"\x01"):
            raise ValueError("bad padding delimiter")
        plaintext += data[:-1]
    return plaintext


@dataclass
class Subscription:
    """The browser's side of one subscription."""
    token: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    application_server_key: str  # base64url, the VAPID public key it was made for

    def to_json(self) -> dict:
        """As ``PushSubscription.toJSON()`` gives it to the page."""
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": b64url(_point(self.private_key.public_key())), "auth": b64url(self.auth)}}


@dataclass
class Received:
    token: str
    payload: dict
    ttl: int
    urgency: str | None
    claims: dict


@dataclass
class PushService:
    host: str = "127.0.0.1"
    port: int = 0
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    rejected: list[tuple[str, int, str]] = field(default_factory=list)  # (token, status, reason)
    answers: dict[str, list[int]] = field(default_factory=dict)  # token -> statuses to answer, in turn
    hits: dict[str, int] = field(default_factory=dict)

    # -------------------------------------------------------------- the browser's side
    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def subscribe(self, application_server_key: str) -> Subscription:
        token = secrets.token_urlsafe(24)
        sub = Subscription(token, f"{self.origin}/push/{token}", ec.generate_private_key(ec.SECP256R1()),
                           secrets.token_bytes(16), application_server_key)
        self.subscriptions[token] = sub
        return sub

    def answer(self, sub: Subscription, *statuses: int) -> None:
        """Answer the next pushes to ``sub`` with these statuses (the last one sticks)."""
        self.answers[sub.token] = list(statuses)

    def messages_for(self, sub: Subscription) -> list[dict]:
        return [r.payload for r in self.received if r.token == sub.token]

    # -------------------------------------------------------------- the push service's side
    def _refuse(self, token: str, status: int, reason: str) -> web.Response:
        self.rejected.append((token, status, reason))
        return web.json_response({"code": status, "message": reason}, status=status)

    def _check_vapid(self, request: web.Request, sub: Subscription) -> dict | str:
        """The JWT's claims, or why the Authorization header is refused."""
        header = request.headers.get("Authorization", "")
        scheme, _, params = header.partition(" ")
        if scheme.lower() != "vapid":
            return f"not a vapid Authorization: {header[:40]!r}"
        fields = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
        token, key = fields.get("t", ""), fields.get("k", "")
        if key.rstrip("=") != sub.application_server_key.rstrip("="):
            return "k is not the application server key this subscription was made for"
        try:
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
            head64, claims64, sig64 = token.split(".")
            head = json.loads(b64url_decode(head64))
            claims = json.loads(b64url_decode(claims64))
            sig = b64url_decode(sig64)
        except ValueError as exc:
            return f"malformed token: {exc}"
        if head.get("alg") != "ES256" or len(sig) != 64:
            return f"not an ES256 JWT: {head}"
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        try:
            public.verify(der, f"{head64}.{claims64}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return "the JWT's signature does not verify against k"
        now = time.time()
        if claims.get("aud") != self.origin:
            return f"aud {claims.get('aud')!r} is not this push service's origin {self.origin}"
        if not isinstance(claims.get("exp"), int) or not now < claims["exp"] <= now + 24 * 3600:
            return f"exp {claims.get('exp')!r} is not within the next 24 hours"
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            return f"sub {claims.get('sub')!r} is not a mailto: or https: contact"
        return claims

    async def _push(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        self.hits[token] = self.hits.get(token, 0) + 1
        sub = self.subscriptions.get(token)
        if sub is None:
            return self._refuse(token, 404, "no such subscription")
        claims = self._check_vapid(request, sub)
        if isinstance(claims, str):
            return self._refuse(token, 401, claims)
        queued = self.answers.get(token)
        if queued:
            status = queued.pop(0) if len(queued) > 1 else queued[0]
            if status >= 300:
                return web.json_response({"code": status, "message": "as the test asked"}, status=status)
        ttl = request.headers.get("TTL", "")
        if not ttl.isdigit():
            return self._refuse(token, 400, "missing or bad TTL header")
        if request.headers.get("Content-Encoding") != "aes128gcm":
            return self._refuse(token, 415, f"Content-Encoding {request.headers.get('Content-Encoding')!r}")
        body = await request.read()
        if len(body) > 4096:
            return self._refuse(token, 413, f"payload of {len(body)} bytes")
        try:
            payload = json.loads(decrypt_aes128gcm(body, sub.private_key, sub.auth))
        except ValueError as exc:
            return self._refuse(token, 400, f"cannot decrypt: {exc}")
        self.received.append(Received(token, payload, int(ttl), request.headers.get("Urgency"), claims))
        return web.Response(status=201, headers={"Location": f"{self.origin}/message/{secrets.token_hex(8)}"})

    # -------------------------------------------------------------- running
    def start(self) -> "PushService":
        ready = threading.Event()

        def run():
            self._loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_post("/push/{token}", self._push)
            self._runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, self.port)
            self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        assert ready.wait(10), "the push service did not start"
        return self

    def stop(self) -> None:
        """Stop serving (connections are refused from then on); twice is harmless."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
