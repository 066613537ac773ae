"""``consist lineage``: where a run or artifact came from, or what was built from it."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.tree import Tree

from consist.cli._common import (
    CatalogOption,
    JsonOption,
    RunDirOption,
    check_choice,
    console,
    emit_json,
    reports_errors,
    tracker_for,
)
from consist.cli._run_ids import complete_run_id, resolve_run_id
from consist.domain.errors import AmbiguousMatch, NotFound
from consist.services.runs.lineage import LineageNode

app = typer.Typer()
FORMATS = ("tree", "mermaid", "dot", "html")
DIRECTIONS = ("upstream", "downstream")


def _edges(root: LineageNode, direction: str) -> list[tuple[LineageNode, LineageNode]]:
    """Edges in the direction data flows: producer -> artifact -> reader."""
    edges: list[tuple[LineageNode, LineageNode]] = []

    def visit(node: LineageNode) -> None:
        for child in node.children:
            edges.append((child, node) if direction == "upstream" else (node, child))
            visit(child)

    visit(root)
    return edges


def _nodes(root: LineageNode) -> dict[tuple[str, str], str]:
    ids: dict[tuple[str, str], str] = {}
    for node in root.walk():
        ids.setdefault((node.kind, node.id), f"n{len(ids)}")
    return ids


def _labels(root: LineageNode) -> dict[tuple[str, str], LineageNode]:
    labels: dict[tuple[str, str], LineageNode] = {}
    for node in root.walk():
        labels.setdefault((node.kind, node.id), node)
    return labels


def to_mermaid(root: LineageNode, direction: str) -> str:
    """A Mermaid flowchart: runs as rounded boxes, artifacts as rectangles."""
    ids, nodes = _nodes(root), _labels(root)
    lines = ["flowchart LR"]
    for key, node_id in ids.items():
        text = nodes[key].label.replace('"', "'")
        shape = f'("{text}")' if key[0] == "run" else f'["{text}"]'
        lines.append(f"    {node_id}{shape}")
    seen = set()
    for source, target in _edges(root, direction):
        edge = (ids[(source.kind, source.id)], ids[(target.kind, target.id)])
        if edge not in seen:
            seen.add(edge)
            lines.append(f"    {edge[0]} --> {edge[1]}")
    return "\n".join(lines)


def to_dot(root: LineageNode, direction: str) -> str:
    """A Graphviz digraph: runs as ellipses, artifacts as boxes."""
    ids, nodes = _nodes(root), _labels(root)
    lines = ["digraph lineage {", "    rankdir=LR;"]
    for key, node_id in ids.items():
        text = nodes[key].label.replace("\\", "\\\\").replace('"', '\\"')
        shape = "ellipse" if key[0] == "run" else "box"
        lines.append(f'    {node_id} [label="{text}", shape={shape}];')
    seen = set()
    for source, target in _edges(root, direction):
        edge = (ids[(source.kind, source.id)], ids[(target.kind, target.id)])
        if edge not in seen:
            seen.add(edge)
            lines.append(f"    {edge[0]} -> {edge[1]};")
    lines.append("}")
    return "\n".join(lines)


def to_tree(root: LineageNode) -> Tree:
    def label(node: LineageNode) -> str:
        kind = "[bold]run[/bold]" if node.kind == "run" else "[cyan]artifact[/cyan]"
        seen = " [dim](shown above)[/dim]" if node.repeated else ""
        return f"{kind} {escape(node.label)}{seen}"

    def grow(branch: Tree, node: LineageNode) -> None:
        for child in node.children:
            grow(branch.add(label(child)), child)

    tree = Tree(label(root))
    grow(tree, root)
    return tree


def _run_by_prefix(tracker: Any, ref: str) -> str:
    try:
        return resolve_run_id(tracker, ref)
    except AmbiguousMatch:
        raise
    except NotFound:
        raise NotFound(
            f"no run or artifact {ref!r} in the catalog; `consist runs` lists the runs"
        ) from None


def lineage_html(tracker: Any, root: LineageNode, direction: str) -> str:
    """The walk's runs drawn by the ``consist report`` engine, one box per run."""
    from consist.cli._report import build_report
    from consist.report import render_html

    run_ids = {node.id for node in root.walk() if node.kind == "run"}
    payload = build_report(tracker, run_ids=run_ids, title=f"Lineage ({direction}) of {root.id}")
    return render_html(payload)


@app.command("lineage")
@reports_errors
def lineage_command(
    ref: Annotated[
        str,
        typer.Argument(
            metavar="RUN|ARTIFACT",
            help="Run id (or a unique beginning of one), artifact id or URI.",
            autocompletion=complete_run_id,
        ),
    ],
    direction: Annotated[
        str, typer.Option("--direction", "-d", help="upstream (sources) or downstream (uses).")
    ] = "upstream",
    fmt: Annotated[
        str,
        typer.Option(
            "--format", "-f", help="tree, mermaid, dot or html (a page like consist report's)."
        ),
    ] = "tree",
    depth: Annotated[int, typer.Option(min=1, help="How many levels to walk.")] = 50,
    catalog: CatalogOption = None,
    run_dir: RunDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Lineage of a run or artifact: what it came from (upstream) or fed (downstream)."""
    check_choice("--direction", direction, DIRECTIONS)
    check_choice("--format", fmt, FORMATS)
    with tracker_for(catalog, run_dir) as tracker:
        try:
            root = tracker.lineage(ref, direction=direction, max_depth=depth)
        except NotFound:
            root = tracker.lineage(_run_by_prefix(tracker, ref), direction, depth)
        if fmt == "html" and not as_json:
            page = lineage_html(tracker, root, direction)
    if as_json:
        emit_json(root.to_dict())
    elif fmt == "mermaid":
        typer.echo(to_mermaid(root, direction))
    elif fmt == "dot":
        typer.echo(to_dot(root, direction))
    elif fmt == "html":
        typer.echo(page)
    else:
        console.print(to_tree(root))
