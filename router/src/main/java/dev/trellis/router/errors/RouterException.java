package dev.trellis.router.errors;

import static java.util.Objects.requireNonNull;

import java.util.List;

/** An error with a code; converted to a gRPC status only by {@link StatusMapper}. */
public final class RouterException extends RuntimeException {
    private final RouterErrorCode code;
    private final List<Violation> violations;

    public RouterException(RouterErrorCode code, String message) {
        this(code, message, List.of(), null);
    }

    public RouterException(RouterErrorCode code, String message, List<Violation> violations) {
        this(code, message, violations, null);
    }

    public RouterException(RouterErrorCode code, String message, List<Violation> violations, Throwable cause) {
        super(requireNonNull(message, "message is null"), cause);
        this.code = requireNonNull(code, "code is null");
        this.violations = List.copyOf(requireNonNull(violations, "violations is null"));
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

    /** A field that was wrong, as google.rpc.BadRequest reports it. */
    public record Violation(String field, String description) {
        public Violation {
            requireNonNull(field, "field is null");
            requireNonNull(description, "description is null");
        }
    }
}
