"""Model instances from values already at hand, without Model.__init__.

The labeling hot path hands out model instances made from the columns its statements returned
(a lease's Assignment, its Frame and Sequence, a stored Annotation). `Model(**kwargs)` walks every
field of the model, looks up each default and sets each relation through its descriptor: on a
request that makes five of them, more CPU than the rest of the answer. `build` makes the same
instance (same field values, defaults included, same cached relations, a fresh `_state` as an
unsaved instance has) from a per-model table of defaults.

Only for models without pre_init/post_init receivers (what Model.__init__ would also have sent):
`build` checks this, and falls back to the model's constructor if one is connected."""
from __future__ import annotations

from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

_tables: dict[type, tuple[dict, tuple]] = {}
_plain: dict[type, tuple[int, int]] = {}  # model → (pre_init, post_init) receiver counts it was checked at


def _defaults(model: type[Model]) -> tuple[dict, tuple]:
    """(attname → default for fields with a fixed default, fields whose default is a callable)."""
    table = _tables.get(model)
    if table is None:
        fixed, dynamic = {}, []
        for f in model._meta.concrete_fields:
            if f.has_default() and callable(f.default):
                dynamic.append(f)
            else:
                fixed[f.attname] = f.get_default()
        table = _tables[model] = (fixed, tuple(dynamic))
    return table


def _without_init_receivers(model: type[Model]) -> bool:
    """No pre_init/post_init receiver for `model` (asked again only when receivers came or went)."""
    counts = (len(pre_init.receivers), len(post_init.receivers))
    if _plain.get(model) == counts:
        return True
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        _plain.pop(model, None)
        return False
    _plain[model] = counts
    return True


def build(model: type[Model], related: dict | None = None, /, **values) -> Model:
    """`model(**values)` with `values` by attname (`id`, `frame_id`, …) and `related` the related
    instances to cache (`{"frame": frame}`, whose ids are in `values` too)."""
    if not _without_init_receivers(model):
        instance = model(**values)
        for name, value in (related or {}).items():
            setattr(instance, name, value)
        return instance
    fixed, dynamic = _defaults(model)
    instance = model.__new__(model)
    state = instance.__dict__
    state.update(fixed)
    for f in dynamic:
        if f.attname not in values:
            state[f.attname] = f.get_default()
    state.update(values)
    instance._state = ModelState()
    if related:
        instance._state.fields_cache.update(related)
    return instance
