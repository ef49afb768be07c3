"""Page-number pagination for lists, and the shapes the schema gives its pages."""

from __future__ import annotations

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination

MAX_PAGE_SIZE = 100


class Pagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE


class PageParams(serializers.Serializer):
    """Documents ``page`` and ``page_size`` (``Pagination`` reads them itself)."""

    page = serializers.IntegerField(min_value=1, required=False, help_text="1-based page number")
    page_size = serializers.IntegerField(
        min_value=1, max_value=MAX_PAGE_SIZE, required=False, help_text="1-100, default 20"
    )


def page_of(name: str, item: serializers.Serializer) -> serializers.Serializer:
    """The schema of ``Pagination``'s response: ``{count, next, previous, results}``."""
    return inline_serializer(
        name=name,
        fields={
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True, help_text="The next page's URL"),
            "previous": serializers.URLField(allow_null=True),
            "results": item,
        },
    )
