"""A minimal signed REST client, for checking the wire protocol itself:
status codes, headers and error bodies that the SDKs hide."""
import base64
import hashlib
import hmac
import json
import urllib.parse
from email.utils import formatdate

import requests


def sign(key, verb, resource_type, resource_link, date):
    payload = f"{verb.lower()}\n{resource_type.lower()}\n{resource_link}\n{date.lower()}\n\n"
    digest = hmac.new(base64.b64decode(key), payload.encode(), hashlib.sha256).digest()
    sig = base64.b64encode(digest).decode()
    return urllib.parse.quote(f"type=master&ver=1.0&sig={sig}", safe="")


class RestClient:
    def __init__(self, endpoint, key):
        self.endpoint = endpoint.rstrip("/")
        self.key = key
        self.session = requests.Session()
        self.session.verify = False

    def request(self, verb, path, resource_type, resource_link, body=None, headers=None,
                key=None, date=None, raw_body=None):
        date = date or formatdate(usegmt=True)
        h = {
            "x-ms-date": date,
            "x-ms-version": "2020-07-15",
            "authorization": sign(key or self.key, verb, resource_type, resource_link, date),
        }
        if body is not None:
            raw_body = json.dumps(body)
            h["content-type"] = "application/json"
        h.update(headers or {})
        quoted = urllib.parse.quote(path)
        # verify=False per request: a CA-bundle variable in the environment would override the session's.
        return self.session.request(verb, self.endpoint + quoted, data=raw_body, headers=h, verify=False)
