package dev.trellis.router.auth;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.ExperimentsGrpc;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.router.errors.RouterErrorCode;
import dev.trellis.router.errors.RouterException;
import dev.trellis.router.errors.StatusMapper;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.StatusRuntimeException;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Bearer-token check for the public port.
 *
 * <ul>
 *   <li>Mutating {@code trellis.v1.Experiments} calls need {@code authorization: Bearer <admin token>}:
 *       none → UNAUTHENTICATED, a wrong one → PERMISSION_DENIED. Without a configured admin token
 *       the admin API is closed (PERMISSION_DENIED): a router reachable inside a cluster with an
 *       open admin API lets anyone re-route production traffic, so the safe failure is "off".</li>
 *   <li>{@code trellis.v1.Scoring} needs the scoring token when one is configured (the admin
 *       token is accepted there too).</li>
 *   <li>Everything else (reads, health, reflection) is open.</li>
 * </ul>
 *
 * The actor recorded in histories is the {@code x-trellis-actor} header of an authenticated call
 * (sanitized), else "admin". Thread-safe.
 */
public final class AuthInterceptor implements ServerInterceptor {
    public static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    public static final Metadata.Key<String> ACTOR =
            Metadata.Key.of("x-trellis-actor", Metadata.ASCII_STRING_MARSHALLER);

    private static final Pattern ACTOR_NAME = Pattern.compile("[A-Za-z0-9._@:+-]{1,64}");
    private static final Set<String> MUTATING = Set.of(
            ExperimentsGrpc.getPutExperimentMethod().getFullMethodName(),
            ExperimentsGrpc.getStopExperimentMethod().getFullMethodName(),
            ExperimentsGrpc.getRecordOutcomeMethod().getFullMethodName(),
            ExperimentsGrpc.getRecordOutcomesMethod().getFullMethodName(),
            ExperimentsGrpc.getStartRolloutMethod().getFullMethodName(),
            ExperimentsGrpc.getPauseRolloutMethod().getFullMethodName(),
            ExperimentsGrpc.getResumeRolloutMethod().getFullMethodName(),
            ExperimentsGrpc.getPromoteRolloutMethod().getFullMethodName(),
            ExperimentsGrpc.getAbortRolloutMethod().getFullMethodName(),
            ExperimentsGrpc.getSetDefaultVersionMethod().getFullMethodName(),
            ExperimentsGrpc.getKeepVersionMethod().getFullMethodName(),
            ExperimentsGrpc.getReleaseVersionMethod().getFullMethodName());

    private final Tokens adminToken;
    private final Tokens scoringToken;

    public AuthInterceptor(Tokens adminToken, Tokens scoringToken) {
        this.adminToken = requireNonNull(adminToken, "adminToken is null");
        this.scoringToken = requireNonNull(scoringToken, "scoringToken is null");
    }

    /** Whether a method changes state and therefore needs the admin token. */
    public static boolean isMutating(MethodDescriptor<?, ?> method) {
        return MUTATING.contains(method.getFullMethodName());
    }

    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
            ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
        MethodDescriptor<ReqT, RespT> method = call.getMethodDescriptor();
        String bearer = bearer(headers.get(AUTHORIZATION));
        if (isMutating(method)) {
            if (!adminToken.configured()) {
                return reject(
                        call,
                        RouterErrorCode.PERMISSION_DENIED,
                        "the admin API is disabled: start the router with --admin-token-file or TRELLIS_ADMIN_TOKEN");
            }
            if (bearer == null) {
                return reject(
                        call,
                        RouterErrorCode.UNAUTHENTICATED,
                        method.getBareMethodName() + " needs the admin credential: authorization: Bearer <token>");
            }
            if (!adminToken.matches(bearer)) {
                return reject(call, RouterErrorCode.PERMISSION_DENIED, "the admin token does not match");
            }
            return withActor(call, headers, next, actorName(headers));
        }
        if (ScoringGrpc.SERVICE_NAME.equals(method.getServiceName()) && scoringToken.configured()) {
            if (bearer == null) {
                return reject(
                        call, RouterErrorCode.UNAUTHENTICATED, "scoring needs authorization: Bearer <scoring token>");
            }
            if (!scoringToken.matches(bearer) && !adminToken.matches(bearer)) {
                return reject(call, RouterErrorCode.PERMISSION_DENIED, "the scoring token does not match");
            }
        }
        return next.startCall(call, headers);
    }

    private static <ReqT, RespT> ServerCall.Listener<ReqT> withActor(
            ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next, String actor) {
        Context context = Context.current().withValue(Actor.KEY, actor);
        return Contexts.interceptCall(context, call, headers, next);
    }

    private static String actorName(Metadata headers) {
        String name = headers.get(ACTOR);
        if (name == null || !ACTOR_NAME.matcher(name).matches()) {
            return "admin";
        }
        return name;
    }

    private static String bearer(String authorization) {
        if (authorization == null) {
            return null;
        }
        String value = authorization.trim();
        if (value.length() > 7 && value.regionMatches(true, 0, "Bearer ", 0, 7)) {
            String token = value.substring(7).trim();
            return token.isEmpty() ? null : token;
        }
        return null;
    }

    private static <ReqT, RespT> ServerCall.Listener<ReqT> reject(
            ServerCall<ReqT, RespT> call, RouterErrorCode code, String message) {
        StatusRuntimeException e = StatusMapper.toStatusException(new RouterException(code, message));
        call.close(e.getStatus(), e.getTrailers() == null ? new Metadata() : e.getTrailers());
        return new ServerCall.Listener<>() {};
    }
}
