package dev.trellis.common.auth;

import static java.util.Objects.requireNonNull;

import dev.trellis.common.grpc.WireError;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bearer-token access control for a whole server, deny by default (see {@link AccessPolicy}):
 *
 * <ul>
 *   <li>{@link Access#OPEN} methods pass.
 *   <li>{@link Access#CLIENT} methods need the client token when one is configured, else pass; the
 *       admin token is accepted too.
 *   <li>{@link Access#ADMIN} methods (every unlisted one) need the admin token; with none configured
 *       they are refused outright.
 * </ul>
 *
 * No header → UNAUTHENTICATED, a wrong token → PERMISSION_DENIED, both in the shared error shape
 * ({@link WireError}, reason = the {@link Denial}). Every denial is one WARN line (method, peer,
 * reason; never the token) and a call to the {@link DenialListener}, which counts it. Install it
 * with {@code ServerBuilder.intercept} so that it covers every service, present and future.
 * Thread-safe.
 */
public final class BearerAuthInterceptor implements ServerInterceptor {
    public static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private static final Logger log = LoggerFactory.getLogger(BearerAuthInterceptor.class);

    /** Why a call was refused; the ErrorInfo reason and the denial counter's label. */
    public enum Denial {
        /** No {@code authorization: Bearer} header on a call that needs one. */
        MISSING_CREDENTIAL,
        /** A token that is not the one the method needs. */
        WRONG_CREDENTIAL,
        /** An admin method while no admin token is configured. */
        ADMIN_DISABLED,
    }

    /** Told about every refused call. */
    @FunctionalInterface
    public interface DenialListener {
        void denied(MethodDescriptor<?, ?> method, Denial denial);
    }

    /**
     * How a server words its refusals.
     *
     * @param domain the ErrorInfo domain of the server
     * @param clientTokenName what the client token is called in messages: "scoring", "inference"
     * @param adminDisabledCode the status of an admin method while no admin token is configured
     * @param adminDisabledMessage its message, naming the flag that enables it
     */
    public record Settings(
            String domain, String clientTokenName, Status.Code adminDisabledCode, String adminDisabledMessage) {
        public Settings {
            requireNonNull(domain, "domain is null");
            requireNonNull(clientTokenName, "clientTokenName is null");
            requireNonNull(adminDisabledCode, "adminDisabledCode is null");
            requireNonNull(adminDisabledMessage, "adminDisabledMessage is null");
        }
    }

    private final AccessPolicy policy;
    private final Optional<BearerToken> adminToken;
    private final Optional<BearerToken> clientToken;
    private final Settings settings;
    private final DenialListener listener;

    public BearerAuthInterceptor(
            AccessPolicy policy,
            Optional<BearerToken> adminToken,
            Optional<BearerToken> clientToken,
            Settings settings,
            DenialListener listener) {
        this.policy = requireNonNull(policy, "policy is null");
        this.adminToken = requireNonNull(adminToken, "adminToken is null");
        this.clientToken = requireNonNull(clientToken, "clientToken is null");
        this.settings = requireNonNull(settings, "settings is null");
        this.listener = requireNonNull(listener, "listener is null");
    }

    public AccessPolicy policy() {
        return policy;
    }

    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
            ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
        MethodDescriptor<ReqT, RespT> method = call.getMethodDescriptor();
        Access access = policy.access(method);
        if (access == Access.OPEN) {
            return next.startCall(call, headers);
        }
        String bearer = BearerToken.fromHeader(headers.get(AUTHORIZATION));
        if (access == Access.CLIENT) {
            if (clientToken.isEmpty()) {
                return next.startCall(call, headers);
            }
            String name = settings.clientTokenName();
            if (bearer == null) {
                return deny(
                        call,
                        Denial.MISSING_CREDENTIAL,
                        Status.Code.UNAUTHENTICATED,
                        name + " needs authorization: Bearer <" + name + " token>");
            }
            if (!clientToken.get().matches(bearer) && !isAdmin(bearer)) {
                return deny(
                        call,
                        Denial.WRONG_CREDENTIAL,
                        Status.Code.PERMISSION_DENIED,
                        "the " + name + " token does not match");
            }
            return next.startCall(call, headers);
        }
        if (adminToken.isEmpty()) {
            return deny(call, Denial.ADMIN_DISABLED, settings.adminDisabledCode(), settings.adminDisabledMessage());
        }
        if (bearer == null) {
            return deny(
                    call,
                    Denial.MISSING_CREDENTIAL,
                    Status.Code.UNAUTHENTICATED,
                    method.getBareMethodName() + " needs the admin credential: authorization: Bearer <token>");
        }
        if (!isAdmin(bearer)) {
            return deny(call, Denial.WRONG_CREDENTIAL, Status.Code.PERMISSION_DENIED, "the admin token does not match");
        }
        return next.startCall(call, headers);
    }

    private boolean isAdmin(String bearer) {
        return adminToken.isPresent() && adminToken.get().matches(bearer);
    }

    private <ReqT, RespT> ServerCall.Listener<ReqT> deny(
            ServerCall<ReqT, RespT> call, Denial denial, Status.Code code, String message) {
        log.warn(
                "denied {} from {}: {} ({})",
                call.getMethodDescriptor().getFullMethodName(),
                call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR),
                denial,
                message);
        listener.denied(call.getMethodDescriptor(), denial);
        StatusRuntimeException error =
                WireError.of(code, denial.name(), message).toStatusException(settings.domain());
        call.close(error.getStatus(), error.getTrailers() == null ? new Metadata() : error.getTrailers());
        return new ServerCall.Listener<>() {};
    }
}
