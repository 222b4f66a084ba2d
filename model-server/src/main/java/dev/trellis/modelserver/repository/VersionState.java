package dev.trellis.modelserver.repository;

/** Lifecycle of one model version, as RepositoryIndex reports it. */
public enum VersionState {
    /** Bundle being read and warmed up; not yet served. */
    LOADING,
    /** Served. */
    READY,
    /** No new requests; in-flight ones finishing before unload. */
    DRAINING,
    /** Unloaded (out of the version policy, removed from disk, or unloaded on request). */
    UNAVAILABLE,
    /** Refused: the bundle could not be read, verified or warmed up; see the reason. */
    FAILED
}
