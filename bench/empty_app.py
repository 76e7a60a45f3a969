"""The baseline: empty Flask endpoints on the receiver's paths, served like the receiver."""

from flask import Flask


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/v1/events")
    def accept():
        return {"accepted": 0, "duplicates": 0}, 202

    @app.post("/v1/hooks/<platform>")
    def allow(platform: str):
        return {"allow": True}

    return app
