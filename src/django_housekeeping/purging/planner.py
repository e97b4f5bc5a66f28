"""Deletion plans: which rows deleting a model's rows reaches, and the statements that delete them.

A :class:`Plan` is read from the models' metadata once per purge: a tree whose root is the purged
model and whose nodes are the tables Django's ``on_delete`` rules reach (``CASCADE`` children,
``SET_NULL``/``SET_DEFAULT``/``SET(...)`` updates, generic relations, multi-table parents) with the
``PROTECT``/``RESTRICT`` relations that guard them. A :class:`Scope` evaluates the tree for one
batch of root primary keys: every node becomes a queryset that selects its rows through its
parent's (``... WHERE post_id IN (SELECT id FROM post WHERE thread_id IN (1, 2, 3))``), so a batch
needs one statement per node, whatever the number of rows, and no row is loaded into Python.

Statements run in :attr:`Plan.order`: children before their parent (depth first), and a table a
``RESTRICT`` guards after the tables whose rows reference it, so no statement deletes a row
another row still points at — the order foreign-key constraints need on every database, even
those that check them row by row (MySQL, MariaDB). The root's keys are a literal list, so no
statement has ``LIMIT`` inside an ``IN`` subquery (which MySQL and MariaDB refuse).

What the tree cannot express raises :class:`Unsupported`, and the engine then hands each batch to
Django's own ``Collector``: a cascade that reaches its own table again (a cycle), an ``on_delete``
handler that is not one of Django's, a generic relation it cannot compare in SQL.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, models
from django.db.models import F, Lookup, Model, Q, QuerySet, signals
from django.db.models import deletion as django_deletion
from django.db.models.functions import Cast

from django_housekeeping import compat

DELETE = "delete"
UPDATE = "update"

ROOT = "root"  # the purged queryset's rows: a literal list of primary keys per batch
FOREIGN_KEY = "fk"  # rows whose foreign key points at the parent node's rows
PARENT = "parent"  # multi-table inheritance: the parent model's rows of the node's rows
GENERIC = "generic"  # rows a GenericRelation of the parent node's model reaches

PROTECT = "protect"
RESTRICT = "restrict"

# More nodes than this is a schema the engine would rather leave to Django's collector.
MAX_NODES = 500

_SET_HANDLERS = (django_deletion.SET_NULL, django_deletion.SET_DEFAULT)


def concrete(model: Any) -> type[Model]:
    """The concrete model behind ``model`` (itself, unless it is a proxy)."""
    result: type[Model] | None = model._meta.concrete_model
    assert result is not None
    return result


class Unsupported(Exception):
    """The deletion cannot be planned from metadata alone; Django's collector must do it."""


@dataclass(eq=False)
class Node:
    """One table the deletion reaches, along one path from the root."""

    model: type[Model]
    kind: str
    action: str = DELETE
    parent: Node | None = None
    # FOREIGN_KEY: the foreign key on ``model`` pointing at the parent node's model.
    # PARENT: the parent-link field on the parent node's model (the child) pointing at ``model``.
    # GENERIC: the GenericRelation on the parent node's model.
    link: Any = None
    # UPDATE: the on_delete handler that says which value the foreign key gets.
    handler: Any = None
    label: str = ""
    # Deleted (or updated) before this node's rows.
    children: list[Node] = field(default_factory=list)
    # Multi-table parents: deleted after this node's rows, selected by values read before.
    parents: list[Node] = field(default_factory=list)
    # (foreign key, PROTECT or RESTRICT) of relations that may forbid deleting this node's rows.
    guards: list[tuple[Any, str]] = field(default_factory=list)

    def walk(self) -> Iterator[Node]:
        """This node, then every node below it (pre-order)."""
        yield self
        for child in self.children:
            yield from child.walk()
        for parent in self.parents:
            yield from parent.walk()

    @property
    def description(self) -> str:
        if self.kind == FOREIGN_KEY:
            return f"{self.label} via {self.link.name}"
        if self.kind == PARENT:
            return f"{self.label} (parent row)"
        if self.kind == GENERIC:
            return f"{self.label} via {self.link.name}"
        return self.label


@dataclass(eq=False)
class Plan:
    """The deletion tree of one model, with what the engine needs to know about it.

    ``order`` is the order its statements run in: every node after the nodes below it (its rows'
    dependants), every multi-table parent after its child, and every node a ``RESTRICT`` guards
    after the nodes that delete the referencing rows (MySQL checks foreign keys row by row).
    """

    root: Node
    nodes: list[Node]
    order: list[Node]

    @property
    def delete_nodes(self) -> list[Node]:
        return [node for node in self.nodes if node.action == DELETE]

    def nodes_of(self, model: type[Model]) -> list[Node]:
        return [node for node in self.delete_nodes if node.model is model]

    def shared_models(self) -> set[type[Model]]:
        """Models that more than one path reaches: their rows may be reached twice."""
        seen: Counter[type[Model]] = Counter(node.model for node in self.delete_nodes)
        return {model for model, count in seen.items() if count > 1}

    def has_delete_signals(self, queryset_model: type[Model]) -> bool:
        """Whether a model whose rows go has ``pre_delete`` or ``post_delete`` receivers."""
        candidates = {queryset_model, *(node.model for node in self.delete_nodes)}
        return any(
            signals.pre_delete.has_listeners(model) or signals.post_delete.has_listeners(model)
            for model in candidates
        )

    @property
    def guarded(self) -> bool:
        return any(node.guards for node in self.nodes)


def build_plan(model: type[Model], using: str) -> Plan:
    """The deletion tree of ``model``'s rows; raises :class:`Unsupported` when Django must do it."""
    root_model = concrete(model)
    root = Node(model=root_model, kind=ROOT, label=model._meta.label)
    nodes: list[Node] = []
    _expand(root, chain=(root_model,), via_parent_link=None, nodes=nodes)
    every = list(root.walk())
    return Plan(root=root, nodes=every, order=_order(root, every, using))


def _post_order(node: Node) -> Iterator[Node]:
    for child in node.children:
        yield from _post_order(child)
    yield node
    for parent in node.parents:
        yield from _post_order(parent)


def _order(root: Node, nodes: list[Node], using: str) -> list[Node]:
    """The statements' order (see :class:`Plan`), as close to the tree's post-order as it can be."""
    natural = list(_post_order(root))
    before: dict[Node, set[Node]] = {node: set() for node in natural}
    for node in natural:
        before[node].update(node.children)
        for parent in node.parents:
            before[parent].add(node)
        for foreign_key, rule in node.guards:
            if rule == RESTRICT:
                referencing = concrete(foreign_key.model)
                before[node].update(
                    other
                    for other in nodes
                    if other.model is referencing and other.action == DELETE
                )
    ordered: list[Node] = []
    placed: set[Node] = set()
    while len(ordered) < len(natural):
        for node in natural:
            if node not in placed and before[node] <= placed:
                ordered.append(node)
                placed.add(node)
                break
        else:
            if connections[using].features.can_defer_constraint_checks:
                return natural  # the database checks foreign keys at commit: any order will do
            raise Unsupported("RESTRICT relations make the deletion order circular")
    return ordered


def _register(node: Node, nodes: list[Node]) -> None:
    nodes.append(node)
    if len(nodes) > MAX_NODES:
        raise Unsupported(f"the deletion reaches more than {MAX_NODES} tables along its paths")


def _expand(
    node: Node,
    *,
    chain: tuple[type[Model], ...],
    via_parent_link: Any,
    nodes: list[Node],
) -> None:
    """Add what deleting ``node``'s rows reaches: the relations Django's collector follows."""
    _register(node, nodes)
    opts = node.model._meta
    # Reached from its multi-table parent: the parent's own relations are that node's business.
    inherited_from: set[type[Model]] = set()
    if via_parent_link is not None:
        parent_model = concrete(via_parent_link.remote_field.model)
        inherited_from = {parent_model, *parent_model._meta.get_parent_list()}

    relation: Any
    for relation in compat.candidate_relations_to_delete(opts):
        if concrete(relation.model) in inherited_from:
            continue
        foreign_key = relation.field
        handler = foreign_key.remote_field.on_delete
        related_model = concrete(relation.related_model)
        if handler is django_deletion.DO_NOTHING or getattr(handler, "__name__", "").startswith(
            "DB_"
        ):
            continue  # nothing to do, or the database does it (Django 6.1's DB_* handlers)
        if handler is django_deletion.PROTECT:
            node.guards.append((foreign_key, PROTECT))
        elif handler is django_deletion.RESTRICT:
            node.guards.append((foreign_key, RESTRICT))
        elif handler in _SET_HANDLERS or hasattr(handler, "deconstruct"):
            child = Node(
                model=related_model,
                kind=FOREIGN_KEY,
                action=UPDATE,
                parent=node,
                link=foreign_key,
                handler=handler,
                label=related_model._meta.label,
            )
            _register(child, nodes)
            node.children.append(child)
        elif handler is django_deletion.CASCADE:
            if related_model in chain:
                raise Unsupported(
                    f"the cascade from {node.label} reaches {related_model._meta.label} again"
                )
            child = Node(
                model=related_model,
                kind=FOREIGN_KEY,
                parent=node,
                link=foreign_key,
                label=related_model._meta.label,
            )
            node.children.append(child)
            parent_link = foreign_key if foreign_key.remote_field.parent_link else None
            _expand(child, chain=(*chain, related_model), via_parent_link=parent_link, nodes=nodes)
        else:
            raise Unsupported(
                f"{related_model._meta.label}.{foreign_key.name} has a custom on_delete handler"
            )

    private: Any
    for private in opts.private_fields:
        if not hasattr(private, "bulk_related_objects"):
            continue
        generic_model = concrete(private.remote_field.model)
        if generic_model in chain:
            raise Unsupported(f"the generic relation {private} reaches its own model again")
        _generic_values_expression(private)  # raises Unsupported for what SQL cannot compare
        child = Node(
            model=generic_model,
            kind=GENERIC,
            parent=node,
            link=private,
            label=generic_model._meta.label,
        )
        node.children.append(child)
        _expand(child, chain=(*chain, generic_model), via_parent_link=None, nodes=nodes)

    _add_parents(node, chain=chain, via_parent_link=via_parent_link, nodes=nodes)


def _add_parents(
    node: Node, *, chain: tuple[type[Model], ...], via_parent_link: Any, nodes: list[Node]
) -> None:
    """Multi-table inheritance: deleting a child row deletes its parent rows, after it."""
    for parent_model, parent_link in node.model._meta.parents.items():
        if parent_link is None or parent_link is via_parent_link:
            continue
        parent_concrete = concrete(parent_model)
        if parent_concrete in chain:
            raise Unsupported(
                f"the cascade from {node.label} reaches {parent_concrete._meta.label} again"
            )
        parent = Node(
            model=parent_concrete,
            kind=PARENT,
            parent=node,
            link=parent_link,
            label=parent_concrete._meta.label,
        )
        _register(parent, nodes)
        node.parents.append(parent)
        # Django collects parent rows without their relations (the child's own relations
        # include the inherited ones), but with the grandparents.
        _add_parents(parent, chain=(*chain, parent_concrete), via_parent_link=None, nodes=nodes)


_INTEGER_TYPES = {
    "AutoField",
    "BigAutoField",
    "SmallAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveBigIntegerField",
    "PositiveSmallIntegerField",
}
_TEXT_TYPES = {"CharField", "TextField"}


def _generic_values_expression(relation: Any) -> Any:
    """How the parent's primary keys compare with the generic model's object ids, in SQL.

    Integer keys against integer object ids compare as they are; integer keys against text object
    ids are cast to text (``"12"``, as Django stores them). Anything else (UUID keys, whose text
    form differs between databases) is left to Django's collector.
    """
    pk_type = relation.model._meta.pk.get_internal_type()
    object_id = relation.remote_field.model._meta.get_field(relation.object_id_field_name)
    object_id_type = object_id.get_internal_type()
    if pk_type in _INTEGER_TYPES and object_id_type in _INTEGER_TYPES:
        return None
    if pk_type in _INTEGER_TYPES and object_id_type in _TEXT_TYPES:
        return Cast("pk", output_field=models.TextField())
    raise Unsupported(
        f"the generic relation {relation} compares {pk_type} keys with {object_id_type} ids"
    )


class InKeys(Lookup):
    """``column IN (keys)`` for integer keys read from the database.

    Django prepares every value of an ``__in`` list one by one (microseconds each, for thousands
    of keys per statement and several statements per batch); keys that came out of an integer
    column need none of it. PostgreSQL gets them as one array parameter (``= ANY(%s)``): planning
    a statement with thousands of parameters costs more than running it.
    """

    lookup_name = "housekeeping_in_keys"
    prepare_rhs = False

    def get_prep_lookup(self) -> Any:
        return self.rhs

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        values = list(self.rhs)
        if connection.vendor == "postgresql":
            return f"{lhs_sql} = ANY(%s)", (*lhs_params, values)
        placeholders = ", ".join(["%s"] * len(values))
        return f"{lhs_sql} IN ({placeholders})", (*lhs_params, *values)


def in_keys(model: type[Model], column: str, values: Sequence[Any]) -> Any:
    """A filter: ``column`` (``"pk"`` or an attname holding ``model``'s keys) is one of
    ``values``. Integer keys, as they came from the database, skip Django's per-value work."""
    pk = model._meta.pk
    if (
        values
        and pk is not None
        and pk.get_internal_type() in _INTEGER_TYPES
        and all(type(value) is int for value in values)
    ):
        return InKeys(F(column), tuple(values))
    return Q(**{f"{column}__in": list(values)})


class _FieldUpdate:
    """Stands in for Django's collector to learn the value a SET_* handler assigns."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add_field_update(self, field: Any, value: Any, objs: Any) -> None:
        self.values.append(value)


def update_value(node: Node, using: str) -> Any:
    """The value ``node``'s on_delete handler sets (evaluated again for every batch, as Django)."""
    recorder = _FieldUpdate()
    node.handler(recorder, node.link, node.model._base_manager.db_manager(using).none(), using)
    if len(recorder.values) != 1:
        raise Unsupported(f"the on_delete handler of {node.description} is not a SET handler")
    return recorder.values[0]


def max_query_params(using: str) -> int:
    """How many parameters one statement may carry on this database (a safe bound)."""
    connection = connections[using]
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        raw = connection.connection
        try:
            return int(raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
        except AttributeError:  # pragma: no cover - Python built without getlimit
            return 999
    if connection.vendor == "postgresql":
        return 65535
    limit = connection.features.max_query_params
    return int(limit) if limit else 100_000


def chunked(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class Scope:
    """The deletion tree evaluated for one batch of root primary keys."""

    def __init__(
        self,
        plan: Plan,
        using: str,
        root_pks: Sequence[Any],
        param_limit: int,
        root_filter: Q | None = None,
        root_rows: QuerySet[Any] | None = None,
    ) -> None:
        self.plan = plan
        self.using = using
        self.root_pks = list(root_pks)
        # A condition the root rows meet besides their keys (a partition's bounds, so that
        # PostgreSQL prunes the statements to that partition).
        self.root_filter = root_filter
        # The root rows as a queryset of their own (a range of keys in one partition), instead of
        # the list of their keys.
        self.root_rows = root_rows
        self.param_limit = param_limit
        self._literals: dict[Node, Sequence[Any]] = {}
        self._content_types: dict[Any, int] = {}

    def manager(self, node: Node) -> QuerySet[Any]:
        return node.model._base_manager.db_manager(self.using).all()

    def queryset(self, node: Node) -> QuerySet[Any]:
        """The rows of ``node`` this batch reaches, as a lazy queryset (nothing is read)."""
        rows = self.manager(node)
        if node.kind == ROOT:
            if self.root_rows is not None:
                return self.root_rows
            rows = rows.filter(in_keys(node.model, "pk", self.root_pks))
            return rows if self.root_filter is None else rows.filter(self.root_filter)
        assert node.parent is not None
        if node.kind == FOREIGN_KEY:
            target = node.link.target_field
            if node.parent.kind == ROOT and target.primary_key:
                return rows.filter(in_keys(node.parent.model, node.link.attname, self.root_pks))
            column = "pk" if target.primary_key else target.attname
            return rows.filter(
                **{f"{node.link.attname}__in": self.queryset(node.parent).values(column)}
            )
        if node.kind == PARENT:
            return rows.filter(pk__in=self.queryset(node.parent).values(node.link.attname))
        # GENERIC
        relation = node.link
        cast = _generic_values_expression(relation)
        parent_rows = self.queryset(node.parent)
        if cast is None:
            values: Any = self.root_pks if node.parent.kind == ROOT else parent_rows.values("pk")
        else:
            values = parent_rows.annotate(_housekeeping_key=cast).values("_housekeeping_key")
        return rows.filter(
            **{
                relation.content_type_field_name: self._content_type(relation),
                f"{relation.object_id_field_name}__in": values,
            }
        )

    def _content_type(self, relation: Any) -> int:
        if relation not in self._content_types:
            # django.contrib.contenttypes is optional: only a site with generic relations (which
            # need it) gets here, and importing its model elsewhere would fail.
            from django.contrib.contenttypes.models import ContentType

            content_type = ContentType.objects.db_manager(self.using).get_for_model(
                relation.model, for_concrete_model=relation.for_concrete_model
            )
            self._content_types[relation] = content_type.pk
        return self._content_types[relation]

    # guards -------------------------------------------------------------------------------------

    def violated_guard(self) -> str | None:
        """The first PROTECT/RESTRICT relation this batch would violate (``"app.Model.field"``)."""
        for node in self.plan.nodes:
            for foreign_key, rule in node.guards:
                referencing_model = concrete(foreign_key.model)
                target = foreign_key.target_field
                column = "pk" if target.primary_key else target.attname
                referencing = referencing_model._base_manager.db_manager(self.using).filter(
                    **{f"{foreign_key.attname}__in": self.queryset(node).values(column)}
                )
                if rule == RESTRICT:
                    # Allowed when the referencing rows go too, through a cascade of this batch.
                    for other in self.plan.nodes_of(referencing_model):
                        referencing = referencing.exclude(pk__in=self.queryset(other).values("pk"))
                if referencing.exists():
                    return f"{referencing_model._meta.label}.{foreign_key.name}"
        return None

    # counting -----------------------------------------------------------------------------------

    def count(self, node: Node) -> int:
        return self.queryset(node).count()

    def primary_keys(self, node: Node) -> set[Any]:
        return set(self.queryset(node).values_list("pk", flat=True))

    # deleting -----------------------------------------------------------------------------------

    def delete(self, deleted_all_of: Callable[[type[Model]], None] | None = None) -> Counter[str]:
        """Delete (and update) this batch's rows in the plan's order; rows deleted per model.

        ``deleted_all_of(model)`` is called once the last statement deleting ``model``'s rows ran
        (to send ``post_delete`` when Django would).
        """
        deleted: Counter[str] = Counter()
        last_of = {node.model: node for node in self.plan.order if node.action == DELETE}
        try:
            for node in self.plan.order:
                if node.action == UPDATE:
                    value = update_value(node, self.using)
                    for rows in self._pieces(node):
                        rows.update(**{node.link.name: value})
                    continue
                for parent in node.parents:
                    # Read before the rows go: a parent row is selected by its child's key.
                    parent_keys: list[Any] = []
                    for rows in self._pieces(node):
                        parent_keys.extend(rows.values_list(parent.link.attname, flat=True))
                    self._literals[parent] = list(dict.fromkeys(parent_keys))
                for rows in self._pieces(node):
                    count = compat.raw_delete(rows, self.using)
                    if count:
                        deleted[node.label] += count
                if deleted_all_of is not None and last_of[node.model] is node:
                    deleted_all_of(node.model)
        finally:
            self._literals.clear()
        return deleted

    def _pieces(self, node: Node) -> Iterator[QuerySet[Any]]:
        """``node``'s rows as querysets a statement can change: one subquery-selected queryset,
        or chunks of primary keys (keys read earlier, or read now because MySQL refuses a
        statement whose subquery reads the table it changes)."""
        if node in self._literals:
            known: Sequence[Any] = self._literals[node]
        elif self._reads_own_table(node):
            known = list(self.queryset(node).values_list("pk", flat=True))
        else:
            yield self.queryset(node)
            return
        for chunk in chunked(known, self.param_limit - 10):
            yield self.manager(node).filter(in_keys(node.model, "pk", chunk))

    def _reads_own_table(self, node: Node) -> bool:
        if connections[self.using].features.update_can_self_select:
            return False
        table = node.model._meta.db_table
        ancestor = node.parent
        while ancestor is not None and ancestor.kind != ROOT and ancestor not in self._literals:
            if ancestor.model._meta.db_table == table:
                return True
            ancestor = ancestor.parent
        return False
