package dev.trellis.modelserver.repository;

/** Lifecycle of one model version, as RepositoryIndex reports it. */
public enum VersionState {
    /** Bundle being read and warmed up; not yet served. */
    LOADING,
    /** Served. */
    READY,
    /**
     * Served from memory, but the files it loaded from changed or disappeared on disk (see the
     * reason). Never reloaded from the changed files; unloaded once the control plane stops holding it.
     */
    STALE,
    /** No new requests; in-flight ones finishing before unload. */
    DRAINING,
    /** Unloaded (out of the version policy, removed from disk, or unloaded on request). */
    UNAVAILABLE,
    /** Refused: the bundle could not be read, verified or warmed up; see the reason. */
    FAILED
}
