"""A reply as a person reads it: Markdown, highlighted code with a working Copy link, no injected markup."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication

from dataelan_desktop.ui.chat.markdown import COPY_SCHEME, MarkdownRenderer
from dataelan_desktop.ui.chat.message_widget import MessageView, MessageWidget

REPLY = """Here is **bold** and a table:

| a | b |
| - | - |
| 1 | 2 |

```python
print("first")
```

<script>alert("x")</script>

```
second block
```
"""


def test_a_reply_renders_and_each_code_block_copies(qtbot):
    widget = MessageWidget(MessageView("m1", "assistant", REPLY, "complete"), MarkdownRenderer(dark=False))
    qtbot.addWidget(widget)
    html = widget.body.text()
    assert "<b>bold</b>" in html or "<strong>bold</strong>" in html
    assert html.count("<table") >= 3  # the Markdown table and each code block's frame
    assert "&lt;script&gt;" in html and "<script>" not in html  # model output cannot inject markup
    assert "python" in html and "Copy</a>" in html
    assert '<span style="color' in html  # Pygments coloured the Python block
    widget._link(f"{COPY_SCHEME}:0")
    assert QGuiApplication.clipboard().text() == 'print("first")\n'
    widget._link(f"{COPY_SCHEME}:1")
    assert QGuiApplication.clipboard().text() == "second block\n"
    widget._link(f"{COPY_SCHEME}:7")  # a link to no block changes nothing
    assert QGuiApplication.clipboard().text() == "second block\n"


def test_a_code_blocks_header_has_its_label_and_copy_link_in_one_frame():
    html, blocks = MarkdownRenderer(dark=True).render("```rust\nfn main() {}\n```")
    assert blocks == ["fn main() {}\n"]
    frame = html[html.index("<table") :]
    # one column in the frame: no cell grid line between the label and the link
    assert "colspan" not in frame and frame.count("<tr>") == 3  # header row, its inner row, the code
    assert ">rust<" in frame and f'href="{COPY_SCHEME}:0"' in frame
