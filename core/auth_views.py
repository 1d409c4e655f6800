from django.contrib.auth import authenticate, get_user_model, login, logout
from django.contrib.auth.password_validation import validate_password
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

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
    throttle_classes = [ScopedRateThrottle]
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
        user = User.objects.create_user(username=data["username"], email=data["email"], password=data["password"])
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
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})


class LogoutView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        logout(request)
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
                },
            )
        }
    )
    def get(self, request):
        if not request.user.is_authenticated:
            return Response({"authenticated": False})
        return Response({"authenticated": True, **UserSerializer(request.user).data})
