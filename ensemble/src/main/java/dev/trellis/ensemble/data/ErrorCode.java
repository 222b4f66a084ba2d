package dev.trellis.ensemble.data;

/** Why a dataset was rejected. */
public enum ErrorCode {
    FILE_NOT_READABLE,
    EMPTY_FILE,
    MALFORMED_CSV,
    DUPLICATE_COLUMN,
    MISSING_TARGET,
    MISSING_COLUMN,
    NON_BINARY_TARGET,
    NON_NUMERIC_TARGET,
    SINGLE_CLASS_TARGET,
    NOT_A_NUMBER,
    UNKNOWN_COLUMN,
    NO_FEATURES,
}
