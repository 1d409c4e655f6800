from typing import cast

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from core.limits import ClientRateThrottle
from core.pagination import Cursor, Pages
from events.models import Event
from events.selectors import event_get_public, event_list_for_owner, event_list_public
from events.serializers import EventCreateSerializer, EventSerializer, EventUpdateSerializer, PublicEventSerializer
from events.services import event_cancel, event_create, event_delete, event_update


def _organiser(request: Request) -> User:
    # The organisers' views require a signed-in user (the default permission class): never anonymous here.
    return cast(User, request.user)


class EventListCreateView(generics.ListAPIView[Event]):
    """The caller's events, newest first; POST creates one (a draft until its fee is paid)."""

    serializer_class = EventSerializer
    pagination_class = Pages
    throttle_classes = [ClientRateThrottle]
    throttle_scope = "event_create"

    def get_throttles(self) -> list[BaseThrottle]:
        # Creation has a budget per organiser (each event can open a checkout); reading does not.
        return super().get_throttles() if self.request.method == "POST" else []

    def get_queryset(self) -> QuerySet[Event]:
        return event_list_for_owner(owner=_organiser(self.request))

    @extend_schema(request=EventCreateSerializer, responses={201: EventSerializer})
    def post(self, request: Request) -> Response:
        serializer = EventCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = event_create(owner=_organiser(request), **serializer.validated_data)
        return Response(EventSerializer(event).data, status=status.HTTP_201_CREATED)


class EventDetailView(APIView):
    """The caller's event: read it, edit it (409 once cancelled), delete it (a never-paid draft only, else 409).
    Another user's event is answered 404, never 403."""

    @extend_schema(responses={200: EventSerializer})
    def get(self, request: Request, event_id: int) -> Response:
        event = get_object_or_404(event_list_for_owner(owner=_organiser(request)), pk=event_id)
        return Response(EventSerializer(event).data)

    @extend_schema(request=EventUpdateSerializer, responses={200: EventSerializer})
    def patch(self, request: Request, event_id: int) -> Response:
        serializer = EventUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = event_update(event_id=event_id, owner=_organiser(request), changes=serializer.validated_data)
        return Response(EventSerializer(event).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, event_id: int) -> Response:
        event_delete(event_id=event_id, owner=_organiser(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EventCancelView(APIView):
    """Calls off the caller's live event (409 for a draft or an event already cancelled)."""

    @extend_schema(request=None, responses={200: EventSerializer})
    def post(self, request: Request, event_id: int) -> Response:
        return Response(EventSerializer(event_cancel(event_id=event_id, owner=_organiser(request))).data)


class StartTimeCursor(Cursor):
    ordering = ("starts_at", "id")


class PublicEventListView(generics.ListAPIView[Event]):
    """Live, upcoming events in start order, for anyone."""

    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]
    serializer_class = PublicEventSerializer
    pagination_class = StartTimeCursor

    def get_queryset(self) -> QuerySet[Event]:
        return event_list_public()


class PublicEventDetailView(APIView):
    """One event's shareable page: 404 for an event that never went live, except to its owner."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: PublicEventSerializer})
    def get(self, request: Request, event_id: int) -> Response:
        event = event_get_public(event_id=event_id, viewer=request.user)
        if event is None:
            raise Http404
        return Response(PublicEventSerializer(event).data)
