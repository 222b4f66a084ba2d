package dev.trellis.router.errors;

/** What went wrong inside the router; {@link StatusMapper} turns each into a gRPC status. */
public enum RouterErrorCode {
    /** The request is malformed: bad features, empty model, wrong types. */
    INVALID_REQUEST,
    /** No replica knows the model. */
    UNKNOWN_MODEL,
    /** The pinned or routed version is not ready on any replica. */
    UNKNOWN_VERSION,
    /** A version exists in a replica's repository but no replica can load it (the reason says why). */
    VERSION_NOT_LOADABLE,
    /** No replica could serve the request (all down or unhealthy). */
    NO_REPLICA,
    /** The caller's deadline passed before an upstream answered. */
    DEADLINE_EXCEEDED,
    /** The request or a response is larger than allowed. */
    TOO_LARGE,
    /** No credential on a call that needs one. */
    UNAUTHENTICATED,
    /** A credential that does not match, or an API disabled by configuration. */
    PERMISSION_DENIED,
    /** A model-server answered with something the router cannot use. */
    UPSTREAM_FAILURE,
    /** The caller cancelled. */
    CANCELLED,
}
