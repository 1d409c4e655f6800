from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from core.pagination import Cursor, Pages
from events.selectors import event_get_public, event_list_for_owner, event_list_public
from events.serializers import EventCreateSerializer, EventSerializer, EventUpdateSerializer, PublicEventSerializer
from events.services import event_cancel, event_create, event_delete, event_update


class EventListCreateView(generics.ListAPIView):
    """The caller's events, newest first; POST creates one (a draft until its fee is paid)."""

    serializer_class = EventSerializer
    pagination_class = Pages
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "event_create"

    def get_throttles(self):
        # Creation has a budget per organiser (each event can open a checkout); reading does not.
        return super().get_throttles() if self.request.method == "POST" else []

    def get_queryset(self):
        return event_list_for_owner(owner=self.request.user)

    @extend_schema(request=EventCreateSerializer, responses={201: EventSerializer})
    def post(self, request):
        serializer = EventCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = event_create(owner=request.user, **serializer.validated_data)
        return Response(EventSerializer(event).data, status=status.HTTP_201_CREATED)


class EventDetailView(APIView):
    """The caller's event: read it, edit it (409 once cancelled), delete it (a never-paid draft only, else 409).
    Another user's event is answered 404, never 403."""

    @extend_schema(responses={200: EventSerializer})
    def get(self, request, event_id: int):
        event = get_object_or_404(event_list_for_owner(owner=request.user), pk=event_id)
        return Response(EventSerializer(event).data)

    @extend_schema(request=EventUpdateSerializer, responses={200: EventSerializer})
    def patch(self, request, event_id: int):
        serializer = EventUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = event_update(event_id=event_id, owner=request.user, changes=serializer.validated_data)
        return Response(EventSerializer(event).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, event_id: int):
        event_delete(event_id=event_id, owner=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EventCancelView(APIView):
    """Calls off the caller's live event (409 for a draft or an event already cancelled)."""

    @extend_schema(request=None, responses={200: EventSerializer})
    def post(self, request, event_id: int):
        return Response(EventSerializer(event_cancel(event_id=event_id, owner=request.user)).data)


class StartTimeCursor(Cursor):
    ordering = ("starts_at", "id")


class PublicEventListView(generics.ListAPIView):
    """Live, upcoming events in start order, for anyone."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    serializer_class = PublicEventSerializer
    pagination_class = StartTimeCursor

    def get_queryset(self):
        return event_list_public()


class PublicEventDetailView(APIView):
    """One event's shareable page: 404 for an event that never went live, except to its owner."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: PublicEventSerializer})
    def get(self, request, event_id: int):
        event = event_get_public(event_id=event_id, viewer=request.user)
        if event is None:
            raise Http404
        return Response(PublicEventSerializer(event).data)
