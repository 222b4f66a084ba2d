package dev.trellis.router.errors;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Map;

/**
 * An error with a code; converted to a gRPC status only by {@link StatusMapper}. Its metadata
 * travels in the status's {@code google.rpc.ErrorInfo}.
 */
public final class RouterException extends RuntimeException {
    private final RouterErrorCode code;
    private final List<Violation> violations;
    private final Map<String, String> metadata;

    public RouterException(RouterErrorCode code, String message) {
        this(code, message, List.of(), null);
    }

    public RouterException(RouterErrorCode code, String message, List<Violation> violations) {
        this(code, message, violations, null);
    }

    public RouterException(RouterErrorCode code, String message, List<Violation> violations, Throwable cause) {
        this(code, message, violations, Map.of(), cause);
    }

    public RouterException(
            RouterErrorCode code,
            String message,
            List<Violation> violations,
            Map<String, String> metadata,
            Throwable cause) {
        super(requireNonNull(message, "message is null"), cause);
        this.code = requireNonNull(code, "code is null");
        this.violations = List.copyOf(requireNonNull(violations, "violations is null"));
        this.metadata = Map.copyOf(requireNonNull(metadata, "metadata is null"));
    }

    /**
     * An {@link RouterErrorCode#INVALID_REQUEST} with field violations, its message naming the
     * first: {@code summary: field: description (and N more)}.
     */
    public static RouterException invalidRequest(String summary, List<Violation> violations) {
        Violation first = violations.get(0);
        return new RouterException(
                RouterErrorCode.INVALID_REQUEST,
                summary + ": " + first.field() + ": " + first.description()
                        + (violations.size() > 1 ? " (and " + (violations.size() - 1) + " more)" : ""),
                violations);
    }

    public RouterErrorCode code() {
        return code;
    }

    public List<Violation> violations() {
        return violations;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /** A field that was wrong, as google.rpc.BadRequest reports it. */
    public record Violation(String field, String description) {
        public Violation {
            requireNonNull(field, "field is null");
            requireNonNull(description, "description is null");
        }
    }
}
