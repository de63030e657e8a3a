"""List filters by id that do not tell outsiders what exists.

django-filter turns a foreign key in `filterset_fields` into a choice among *all* rows of the
related model: an id that exists answered 200 (an empty list, when it is not yours) and one that
does not answered 400, so anyone could probe which projects, datasets or frames exist. Here a
foreign key filters by its id as a plain number: both answer 200 with what you may see."""
from django.db import models
from django_filters import NumberFilter
from django_filters.rest_framework import DjangoFilterBackend, FilterSet


class IdFilterSet(FilterSet):
    FILTER_DEFAULTS = {
        **FilterSet.FILTER_DEFAULTS,
        models.ForeignKey: {"filter_class": NumberFilter},
        models.OneToOneField: {"filter_class": NumberFilter},
    }


class IdFilterBackend(DjangoFilterBackend):
    filterset_base = IdFilterSet
