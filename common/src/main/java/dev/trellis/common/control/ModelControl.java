package dev.trellis.common.control;

import java.util.Collection;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * The contract of explicit model control between the router's control plane and a model-server,
 * carried over the Open Inference Protocol's repository extension without changing its messages:
 *
 * <ul>
 *   <li>{@code RepositoryModelLoad} with Triton's {@value #CONFIG_PARAMETER} string parameter, a JSON
 *       model configuration {@code {"version_policy":{"specific":{"versions":[1,2]}}}}: the listed
 *       versions become the model's held set on that replica (replacing the previous one);
 *   <li>{@code RepositoryIndex} says {@value #HELD_REASON} in the reason of a READY version that is
 *       held, so the router sees which replicas still hold what (a restarted replica holds nothing).
 * </ul>
 */
public final class ModelControl {
    /** The load parameter that carries the held versions (Triton's model configuration override). */
    public static final String CONFIG_PARAMETER = "config";

    /** Part of the index reason of a READY version that the control plane holds. */
    public static final String HELD_REASON = "held by the control plane";

    private ModelControl() {}

    /** The {@value #CONFIG_PARAMETER} value that holds exactly {@code versions} (ascending, duplicates dropped). */
    public static String heldVersionsConfig(Collection<Integer> versions) {
        String list = new TreeSet<>(versions).stream().map(String::valueOf).collect(Collectors.joining(","));
        return "{\"version_policy\":{\"specific\":{\"versions\":[" + list + "]}}}";
    }

    /** Whether an index reason says that the control plane holds the version. */
    public static boolean isHeld(String reason) {
        return reason != null && reason.contains(HELD_REASON);
    }
}
