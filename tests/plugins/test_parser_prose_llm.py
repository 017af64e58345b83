"""The prose parser's optional LLM pass against a real OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from studio_prose.llm import parse_answer

from studio.api import ParseContext, SourceText, StudioError
from studio.corpus.inspect import parse_file
from studio.llm.parsers import parser_llm

TEXT = (
    "第一章\n\n    眉庄笑道：“妹妹来了。”\n"
    "    一个宫女进来，“奴婢给小主请安。”\n    又有人低低说了一句，“外头下雪了。”\n"
)


class _Server:
    """Answers chat completions: first a 500, then fenced JSON naming 槿汐, then bad JSON once."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def do_POST(self):  # noqa: N802 (http.server API)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.calls.append({"body": body, "auth": self.headers.get("Authorization")})
                if len(outer.calls) == 1:
                    self.send_response(500)
                    self.end_headers()
                    return
                prompt = body["messages"][-1]["content"]
                content = (
                    "```json\n{'speaker': '槿汐',}\n```"
                    if "请安" in prompt.split("Who says")[1]
                    else "not json"
                )
                if len(outer.calls) > 4:
                    content = '{"speaker": "UNKNOWN"}'
                data = json.dumps(
                    {"choices": [{"message": {"role": "assistant", "content": content}}]}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize(
    ("answer", "speaker"),
    [
        ('{"speaker": "眉庄"}', "眉庄"),
        ("```json\n{'speaker': '眉庄',}\n```", "眉庄"),
        ('Sure! {"speaker":"UNKNOWN"}', ""),
        ("speaker: 槿汐", "槿汐"),
        ("槿汐", "槿汐"),
        ("I cannot tell from this passage at all.", None),
    ],
)
def test_tolerant_answer_parsing(answer, speaker):
    assert parse_answer(answer) == speaker


def test_llm_pass_names_unknown_speakers_retries_and_resumes(host, tmp_path, monkeypatch):
    parser = host.parsers["prose"]
    cache = tmp_path / "llm.jsonl"
    monkeypatch.setenv("TEST_LLM_KEY", "sk-local")
    seen: list[tuple[int, int]] = []
    with _Server() as server:
        options = {o.name: o.default for o in parser.options} | {
            "llm": "openai",
            "llm_base_url": server.url,
            "llm_model": "m",
            "llm_api_key_env": "TEST_LLM_KEY",
            "llm_cache": str(cache),
            "llm_retries": 2,
            "names": "槿汐,眉庄",
            "progress": lambda d, t, w: seen.append((d, t)),
        }
        source = SourceText(Path("n.txt"), TEXT, "utf-8")
        rules_only = parser.parse(source, {**options, "llm": "off"})
        assert [u.speaker for u in rules_only.utterances if u.kind == "dialogue"] == [
            "眉庄",
            None,
            None,
        ]
        assert not server.calls  # off by default: no request at all
        assert parser_llm({**options, "llm": "off"}) is None
        context = ParseContext(
            llm=parser_llm(options)
        )  # the host's client: the studio's one LLM layer
        result = parser.parse(source, options, context=context)
        said = [u.speaker for u in result.utterances if u.kind == "dialogue"]
        assert said == ["眉庄", "槿汐", None]  # the second quote stays unknown: "not json" twice
        assert server.calls[0]["auth"] == "Bearer sk-local"
        assert any("no usable answer after 2 attempts" in w.message for w in result.warnings)
        assert seen[-1] == (2, 2)
        calls = len(server.calls)
        again = parser.parse(
            source, options, context=context
        )  # resumes: the answered quote comes from the cache
        assert [u.speaker for u in again.utterances if u.kind == "dialogue"][1] == "槿汐"
        assert len(server.calls) == calls + 1  # only the unanswered quote is asked again
    rows = [json.loads(line) for line in cache.read_text(encoding="utf-8").splitlines()]
    assert rows[0]["speaker"] == "槿汐" and rows[0]["line"] == 4


def test_the_host_hands_its_llm_to_the_parser(host, tmp_path, monkeypatch):
    """Through parse_file (as build, roster and the studio use it) the parser gets the host LLM."""
    novel = tmp_path / "n.txt"
    novel.write_text(TEXT, encoding="utf-8")
    with _Server() as server:
        options = {
            "llm": "openai",
            "llm_base_url": server.url,
            "llm_model": "m",
            "llm_cache": str(tmp_path / "c.jsonl"),
            "llm_retries": 2,
            "names": "槿汐,眉庄",
        }
        result = parse_file(novel, host.parsers, parser="prose", options=options)
        assert [u.speaker for u in result.utterances if u.kind == "dialogue"][:2] == [
            "眉庄",
            "槿汐",
        ]
        assert server.calls
    with pytest.raises(StudioError, match="no model client"):
        host.parsers["prose"].parse(
            SourceText(novel, TEXT, "utf-8"),
            {o.name: o.default for o in host.parsers["prose"].options} | options,
        )


class _BatchingClient:
    """A client that answers several requests at once (as the host's local model does)."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def __call__(self, messages, **kw):
        return self.many([messages], **kw)[0]

    def many(self, requests, **kw):
        self.batches.append(len(requests))
        marked = [r[-1]["content"].split("Who says")[1] for r in requests]
        return ['{"speaker": "槿汐"}' if "请安" in m else "??" for m in marked]


def test_the_llm_pass_asks_llm_batch_quotes_at_a_time(host, tmp_path):
    parser = host.parsers["prose"]
    text = "第一章\n\n" + "".join(
        f"    一个宫女进来，“奴婢给小主请安{i}。”\n    又有人说了一句，“外头下雪了{i}。”\n"
        for i in range(3)
    )
    client = _BatchingClient()
    options = {o.name: o.default for o in parser.options} | {
        "llm": "transformers",
        "llm_model": "m",
        "llm_cache": str(tmp_path / "c.jsonl"),
        "llm_batch": 4,
        "llm_retries": 1,
        "names": "槿汐,眉庄",
    }
    result = parser.parse(
        SourceText(Path("n.txt"), text, "utf-8"), options, context=ParseContext(llm=client)
    )
    said = [u.speaker for u in result.utterances if u.kind == "dialogue"]
    assert said == ["槿汐", None] * 3
    assert client.batches == [4, 2]  # six unknown quotes, four at a time; no second asks


def test_a_local_model_folder_answers_a_padded_batch_as_it_answers_one_by_one(host, tmp_path):
    from studio.api import ModelSpec
    from studio.llm.parsers import FolderBackend

    folder = host.adapters["tiny-qwen2"].fetch(
        ModelSpec("tiny-qwen2", source="tiny", cache_dir=str(tmp_path / "cache"))
    )
    backend = FolderBackend(str(folder), batch_size=3)
    requests = [
        [{"role": "system", "content": "Answer."}, {"role": "user", "content": "x" * n}]
        for n in (1, 9, 4, 30)
    ]
    together = backend.many(requests, max_tokens=6)
    alone = [backend(r, max_tokens=6) for r in requests]
    assert together == alone and all(isinstance(t, str) for t in together)
    with pytest.raises(StudioError, match="local model folder"):
        FolderBackend(str(tmp_path / "missing"))


class _Naming:
    """A client that names ``who`` for every quote."""

    def __init__(self, who: str) -> None:
        self.who = who

    def __call__(self, messages, **kw):
        return f'{{"speaker": "{self.who}"}}'


@pytest.mark.parametrize(
    ("accept", "answer", "expected"),
    [
        ("agree", "眉庄", "眉庄"),
        ("agree", "槿汐", None),
        ("confirm", "槿汐", None),
        ("any", "槿汐", "槿汐"),
    ],
)
def test_where_the_rules_guessed_the_llm_names_only_when_it_agrees(
    host, tmp_path, accept, answer, expected
):
    parser = host.parsers["prose"]
    text = "第一章\n\n    眉庄笑道：“妹妹来了。”槿汐一愣。又道：“外头下雪了。”\n"
    options = {o.name: o.default for o in parser.options} | {"names": "槿汐,眉庄"}
    rules = parser.parse(SourceText(Path("n.txt"), text, "utf-8"), options)
    said = [u for u in rules.utterances if u.kind == "dialogue"]
    assert [u.speaker for u in said] == ["眉庄", None]  # the second: a guess, not a name
    options |= {
        "llm": "transformers",
        "llm_model": "m",
        "llm_cache": str(tmp_path / "c.jsonl"),
        "llm_accept": accept,
    }
    result = parser.parse(
        SourceText(Path("n.txt"), text, "utf-8"), options, context=ParseContext(llm=_Naming(answer))
    )
    assert [u.speaker for u in result.utterances if u.kind == "dialogue"] == ["眉庄", expected]


@pytest.mark.parametrize(
    ("text", "offered"),
    [
        ("第一章\n\n    眉庄进来，坐下喝茶。“我今日好累。”\n", False),  # 我 only in the quote
        ("第一章\n\n    我进了门，坐下喝茶。“我今日好累。”\n", True),  # the narration says 我
    ],
)
def test_the_narrator_is_offered_only_where_the_narration_is_first_person(host, text, offered):
    from studio_prose.llm import _accept, build_prompt
    from studio_prose.parser import ProseDocument

    document = ProseDocument(SourceText(Path("n.txt"), text, "utf-8"), {"names": "眉庄"})
    document.run()
    quote = next(a for a in document.attributions if "好累" in a.utterance.text)
    prompt, candidates = build_prompt(document, quote, 3)
    assert "【我今日好累。】" in prompt  # the quote is marked in the text
    assert ("first-person narrator" in prompt) is offered
    assert _accept(document, "我", candidates) == ("我" if offered else None)
