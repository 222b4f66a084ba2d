package dev.trellis.client;

/** What kind of target a model version predicts, which says how to read its scores. */
public enum TargetKind {
    /** A 0/1 target: scores are calibrated probabilities, 0..1; labels hot, warm, lukewarm, cold. */
    BINARY,
    /** A continuous target: scores are predicted values in the target's units; labels are tiers A–D. */
    REGRESSION;

    /**
     * The wire value's meaning; an unset value comes from a server that predates target kinds and
     * serves binary models only.
     *
     * @param kind the protobuf value
     * @return the kind
     */
    public static TargetKind fromProto(dev.trellis.api.v1.TargetKind kind) {
        return kind == dev.trellis.api.v1.TargetKind.TARGET_KIND_REGRESSION ? REGRESSION : BINARY;
    }
}
