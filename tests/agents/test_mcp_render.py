"""A tool result as the text a model reads, for each kind of content an MCP server may send."""

from __future__ import annotations

from mcp.types import (
    AudioContent,
    BlobResourceContents,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    TextResourceContents,
)

from dataelan_desktop.core.agents.mcp.render import render_result


def test_each_kind_of_content_becomes_text():
    content = [
        TextContent(text="Found 2 files."),
        ImageContent(data="iVBORw0KGgo=", mime_type="image/png"),
        AudioContent(data="AAAA", mime_type="audio/wav"),
        ResourceLink(uri="file:///notes/a.md", name="a.md"),
        EmbeddedResource(resource=TextResourceContents(uri="file:///notes/b.md", text="# B\nbody")),
        EmbeddedResource(
            resource=BlobResourceContents(uri="file:///x.bin", blob="AAECAw==", mime_type="application/zip")
        ),
    ]
    assert render_result(content).split("\n") == [
        "Found 2 files.",
        "[image: image/png, 8 bytes]",
        "[audio: audio/wav, 3 bytes]",
        "[resource link: a.md <file:///notes/a.md>]",
        "[resource file:///notes/b.md]",
        "# B",
        "body",
        "[resource file:///x.bin: application/zip, 4 bytes]",
    ]


def test_structured_content_is_shown_when_no_text_came_with_it():
    assert (
        render_result([], {"temperature": 21, "city": "Oslo"})
        == '{\n  "temperature": 21,\n  "city": "Oslo"\n}'
    )
    # servers send the same JSON as text too: then it is not repeated
    assert (
        render_result([TextContent(text='{"temperature": 21}')], {"temperature": 21}) == '{"temperature": 21}'
    )
