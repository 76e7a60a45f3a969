"""The baseline: an empty Flask endpoint that answers 202, served like the receiver."""

from flask import Flask


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/v1/events")
    def accept():
        return {"accepted": 0, "duplicates": 0}, 202

    return app
