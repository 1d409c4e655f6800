from django.contrib.auth import authenticate, get_user_model, login, logout, update_session_auth_hash
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema, inline_serializer
from knox.models import AuthToken
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.accounts import (
    api_token_create,
    api_token_revoke,
    api_tokens_revoke_all,
    email_is_verified,
    email_verify,
    password_reset_user,
    password_reset_users,
    user_password_set,
)
from core.limits import ClientRateThrottle
from payments.models import Notification
from payments.services.notifications import account_email_record

User = get_user_model()


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "email"]
        read_only_fields = fields


class RegisterSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    email = serializers.EmailField()
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)

    def validate_username(self, value):
        # Says no more than that the name cannot be had: the email is never checked against other
        # accounts, and registration has its own per-client budget (THROTTLE_REGISTER) against enumeration.
        if User.objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError("This username is not available.")
        return value

    def validate(self, attrs):
        validate_password(attrs["password"], User(username=attrs["username"], email=attrs["email"]))
        return attrs


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)

    def validate(self, attrs):
        # Django's own request, not DRF's wrapper: django-axes marks it when the login is locked out, and
        # its middleware turns the answer into a 429 (core.limits.lockout_response).
        request = self.context["request"]._request
        user = authenticate(request, username=attrs["username"], password=attrs["password"])
        if user is None:
            raise serializers.ValidationError("Invalid username or password.")
        attrs["user"] = user
        return attrs


class _AuthThrottled(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [ClientRateThrottle]
    throttle_scope = "auth"


class _SessionCreating(_AuthThrottled):
    def initial(self, request, *args, **kwargs):
        # DRF checks CSRF only for a logged-in session; these create one, so a forged cross-site
        # form could log a victim into the attacker's account (login CSRF). Token clients use TokenView.
        SessionAuthentication().enforce_csrf(request)
        super().initial(request, *args, **kwargs)


class RegisterView(_SessionCreating):
    throttle_scope = "register"

    @extend_schema(request=RegisterSerializer, responses={201: UserSerializer})
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with transaction.atomic():  # an account always has its verification email in the outbox
            user = User.objects.create_user(username=data["username"], email=data["email"], password=data["password"])
            account_email_record(user=user, kind=Notification.Kind.EMAIL_VERIFICATION)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class LoginView(_SessionCreating):
    @extend_schema(request=CredentialsSerializer, responses={200: UserSerializer})
    def post(self, request):
        serializer = CredentialsSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        login(request, serializer.validated_data["user"])
        return Response(UserSerializer(serializer.validated_data["user"]).data)


class TokenView(_AuthThrottled):
    @extend_schema(
        request=CredentialsSerializer,
        responses={200: inline_serializer("Token", {"token": serializers.CharField()})},
    )
    def post(self, request):
        serializer = CredentialsSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        return Response({"token": api_token_create(user=serializer.validated_data["user"])})


class LogoutView(APIView):
    """Ends the session, and revokes the API token the request was made with."""

    permission_classes = [AllowAny]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        if isinstance(request.auth, AuthToken):
            api_token_revoke(token=request.auth)
        logout(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutEverywhereView(APIView):
    """Revokes every API token of the caller and ends this session."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        api_tokens_revoke_all(user=request.user)
        logout(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(max_length=128, trim_whitespace=False)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)

    def validate_old_password(self, value):
        if not self.context["user"].check_password(value):
            raise serializers.ValidationError("The current password is not correct.")
        return value

    def validate_new_password(self, value):
        validate_password(value, self.context["user"])
        return value


class PasswordChangeView(APIView):
    """A new password for the caller: every other session ends and every API token is revoked; the
    session making the change stays logged in."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [ClientRateThrottle]
    throttle_scope = "auth"

    @extend_schema(request=PasswordChangeSerializer, responses={204: None})
    def post(self, request):
        serializer = PasswordChangeSerializer(data=request.data, context={"user": request.user})
        serializer.is_valid(raise_exception=True)
        user_password_set(user=request.user, password=serializer.validated_data["new_password"])
        if request.session.session_key:
            update_session_auth_hash(request, request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()


class PasswordResetRequestView(_AuthThrottled):
    """Emails a link to set a new password. The answer is the same whether or not the address has an
    account; the per-client budget (THROTTLE_PASSWORD_RESET) answers 429 with Retry-After."""

    throttle_scope = "password_reset"
    ANSWER = "If an account uses this address, an email with a link to set a new password is on its way."

    @extend_schema(
        request=PasswordResetRequestSerializer,
        responses={202: inline_serializer("PasswordResetRequested", {"detail": serializers.CharField()})},
    )
    def post(self, request):
        serializer = PasswordResetRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # Only rows are written here, sent later by a worker: the answer takes as long for an account as
        # for none.
        for user in password_reset_users(email=serializer.validated_data["email"]):
            account_email_record(user=user, kind=Notification.Kind.PASSWORD_RESET)
        return Response({"detail": self.ANSWER}, status=status.HTTP_202_ACCEPTED)


LINK_EXPIRED = "This link has expired or was used already; ask for a new one."


class PasswordResetConfirmSerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)

    def validate(self, attrs):
        user = password_reset_user(uid=attrs["uid"], token=attrs["token"])
        if user is None:
            raise serializers.ValidationError({"token": LINK_EXPIRED})
        try:
            validate_password(attrs["new_password"], user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"new_password": list(exc.messages)}) from exc
        attrs["user"] = user
        return attrs


class PasswordResetConfirmView(_AuthThrottled):
    """Sets the new password from an emailed link: every session ends and every API token is revoked."""

    @extend_schema(request=PasswordResetConfirmSerializer, responses={204: None})
    def post(self, request):
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user_password_set(user=serializer.validated_data["user"], password=serializer.validated_data["new_password"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmailVerifySerializer(serializers.Serializer):
    key = serializers.CharField(max_length=512)


class EmailVerifyView(APIView):
    """Confirms the address from the emailed link's key; needs no session, the key is the proof."""

    permission_classes = [AllowAny]

    @extend_schema(request=EmailVerifySerializer, responses={204: None})
    def post(self, request):
        serializer = EmailVerifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if email_verify(key=serializer.validated_data["key"]) is None:
            raise serializers.ValidationError({"key": "This link has expired or is not valid; ask for a new one."})
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmailVerificationResendView(APIView):
    """Sends the caller a new verification link (a per-user budget, THROTTLE_VERIFICATION_EMAIL)."""

    throttle_classes = [ClientRateThrottle]
    throttle_scope = "verification_email"

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        if not email_is_verified(user=request.user):
            account_email_record(user=request.user, kind=Notification.Kind.EMAIL_VERIFICATION)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    """Who the caller is; a visitor who is not logged in is an answer too, not an error."""

    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            200: inline_serializer(
                "Me",
                {
                    "authenticated": serializers.BooleanField(),
                    "id": serializers.IntegerField(required=False),
                    "username": serializers.CharField(required=False),
                    "email": serializers.EmailField(required=False),
                    "email_verified": serializers.BooleanField(required=False),
                },
            )
        }
    )
    def get(self, request):
        if not request.user.is_authenticated:
            return Response({"authenticated": False})
        return Response(
            {
                "authenticated": True,
                **UserSerializer(request.user).data,
                "email_verified": email_is_verified(user=request.user),
            }
        )
