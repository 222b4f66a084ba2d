package dev.trellis.common;

/**
 * The running build's version, as Maven wrote it into the jar manifest ({@code Implementation-Version}), so that
 * the version lives in one place: the root POM. Classes run from a build folder rather than a jar report
 * {@code "development"}.
 */
public final class TrellisVersion {
    private TrellisVersion() {}

    /** The version of the jar that holds {@code anchor}. */
    public static String of(Class<?> anchor) {
        String version = anchor.getPackage().getImplementationVersion();
        return version == null || version.isBlank() ? "development" : version;
    }
}
