"""The declared order of tasks: ``after=["task", ...]``.

A task (``@housekeeping_task``, ``retention()``) or a group (``group()``) may name the tasks it
must follow. A group — and ``"all"`` — runs its members in that order: topologically (a member
runs after every member it follows, directly or through tasks outside the group), ties in the
order the group lists them (``"all"`` lists them by name). A name in ``after=`` that is a group
stands for its members.

Unknown names and cycles are configuration errors, reported by the system checks
(``django_housekeeping.E017`` and ``E018``); :func:`in_order` does not fail on them: an unknown
name is ignored and the members of a cycle run in their listed order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django_housekeeping.tasks.registry import registry


def in_order(members: Sequence[str]) -> list[str]:
    """``members`` (task names), each after the members it follows; else in the given order."""
    wanted = list(dict.fromkeys(members))
    position = {name: index for index, name in enumerate(wanted)}
    follows = {name: predecessors(name) & position.keys() for name in wanted}
    ordered: list[str] = []
    placed: set[str] = set()
    while len(ordered) < len(wanted):
        ready = [n for n in wanted if n not in placed and follows[n] <= placed]
        # A cycle (a check error): run the first member left, as listed.
        name = ready[0] if ready else next(n for n in wanted if n not in placed)
        ordered.append(name)
        placed.add(name)
    return ordered


def predecessors(name: str) -> set[str]:
    """Every task ``name`` follows, directly or through others (groups stand for members)."""
    found: set[str] = set()
    pending = list(declared_after(name))
    while pending:
        current = pending.pop()
        for member in _expanded(current, set()):
            if member not in found and member != name:
                found.add(member)
                pending.extend(declared_after(member))
    return found


def declared_after(name: str) -> tuple[str, ...]:
    """The names ``name`` declares it runs after (empty for an unknown name)."""
    task = registry.as_mapping().get(name)
    return task.after if task is not None else ()


def _expanded(name: str, seen: set[str]) -> Iterable[str]:
    """``name`` itself, and for a group each of its members (recursively)."""
    yield name
    task = registry.as_mapping().get(name)
    if task is None or not task.is_group or name in seen:
        return
    seen.add(name)
    for member in task.members:
        yield from _expanded(member, seen)


def unknown_after(name: str) -> list[str]:
    """The names in ``name``'s ``after=`` that are no registered task or group."""
    mapping = registry.as_mapping()
    return [other for other in declared_after(name) if other not in mapping]


def cycle_through(name: str) -> list[str] | None:
    """A cycle of ``after=`` declarations through ``name`` (``[name, ..., name]``), or None."""
    path: list[str] = [name]

    def visit(current: str, seen: set[str]) -> list[str] | None:
        for other in declared_after(current):
            for member in _expanded(other, set()):
                if member == name:
                    return [*path, name]
                if member in seen:
                    continue
                seen.add(member)
                path.append(member)
                found = visit(member, seen)
                if found is not None:
                    return found
                path.pop()
        return None

    return visit(name, {name})
