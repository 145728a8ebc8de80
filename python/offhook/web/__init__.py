"""offhook.web: the web handset — an aiohttp server with a WebSocket, and the page.

    from offhook.web import Handset, WebServer
    handset = Handset(phone, cti=cti_service, campaign_db=Path("campaign.sqlite"))
    server = WebServer(handset, token=new_token(), listen=("127.0.0.1", 8080))
    await server.start(); print(server.login_url)

`offhook web` runs it from the command line (cli.py). The page (static/) is plain
HTML/CSS/JS shipped in the package; `<offhook-phone>` (static/offhook-phone.js) embeds
it in another web application. docs/web.md documents the protocol and the element.
aiohttp is the `web` extra: `pip install offhook[web]`.
"""
from offhook.web.auth import WebConfigError, check_listen, new_token
from offhook.web.handset import AudioSettings, CommandError, Handset, call_dict, device_lister, mos_bars

__all__ = ["AudioSettings", "CommandError", "Handset", "WebConfigError", "WebServer", "call_dict",
           "check_listen", "device_lister", "mos_bars", "new_token"]


def __getattr__(name: str) -> object:
    if name == "WebServer":   # imports aiohttp, an optional dependency
        from offhook.web.server import WebServer
        return WebServer
    raise AttributeError(name)
