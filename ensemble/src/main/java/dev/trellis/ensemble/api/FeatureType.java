package dev.trellis.ensemble.api;

/** How a feature is encoded. */
public enum FeatureType {
    /** A real number; missing is NaN. On the wire: FP32. */
    NUMERIC,
    /** A string from a vocabulary learned at training time; missing is null. On the wire: BYTES. */
    CATEGORICAL;

    /** The Open Inference Protocol datatype of this feature's input tensor. */
    public String wireDatatype() {
        return this == NUMERIC ? "FP32" : "BYTES";
    }
}
