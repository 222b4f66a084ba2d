package dev.trellis.modelserver.inference;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.trellis.common.control.ModelControl;
import dev.trellis.modelserver.errors.ErrorCode;
import dev.trellis.modelserver.errors.ModelServerException;
import dev.trellis.proto.inference.ModelRepositoryParameter;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Reads the parameters of {@code RepositoryModelLoad}: Triton's {@code config} string, a JSON model
 * configuration of which Trellis reads exactly one thing, the held versions in
 * {@code {"version_policy":{"specific":{"versions":[1,2]}}}} (numbers or, as proto3 JSON writes
 * int64, decimal strings). Anything else is a caller's mistake named in a field violation.
 * Thread-safe (stateless).
 */
final class LoadParameters {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String FIELD = "parameters[" + ModelControl.CONFIG_PARAMETER + "]";

    private LoadParameters() {}

    /** The versions to hold; empty when the request carries no config (a plain load). */
    static Optional<Set<Integer>> heldVersions(Map<String, ModelRepositoryParameter> parameters) {
        for (String name : parameters.keySet()) {
            if (!name.equals(ModelControl.CONFIG_PARAMETER)) {
                throw bad("parameters[" + name + "]", "unknown parameter '" + name + "'; supported: config");
            }
        }
        ModelRepositoryParameter config = parameters.get(ModelControl.CONFIG_PARAMETER);
        if (config == null) {
            return Optional.empty();
        }
        if (config.getParameterChoiceCase() != ModelRepositoryParameter.ParameterChoiceCase.STRING_PARAM) {
            throw bad(FIELD, "config must be a string_param holding JSON");
        }
        JsonNode root;
        try {
            root = JSON.readTree(config.getStringParam());
        } catch (JsonProcessingException e) {
            throw bad(FIELD, "config is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw bad(FIELD, "config must be a JSON object");
        }
        for (Iterator<String> names = root.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!name.equals("version_policy")) {
                throw bad(FIELD, "unsupported config field '" + name + "'; only version_policy is read");
            }
        }
        JsonNode specific = root.path("version_policy").path("specific");
        if (!specific.isObject() || root.path("version_policy").size() != 1) {
            throw bad(FIELD, "version_policy must be {\"specific\":{\"versions\":[...]}}");
        }
        JsonNode versions = specific.path("versions");
        if (!versions.isArray()) {
            throw bad(FIELD, "version_policy.specific.versions must be an array of versions");
        }
        Set<Integer> held = new TreeSet<>();
        for (JsonNode version : versions) {
            held.add(version(version));
        }
        return Optional.of(Set.copyOf(held));
    }

    private static int version(JsonNode node) {
        String text = node.isIntegralNumber() ? node.asText() : node.isTextual() ? node.textValue() : "";
        if (!text.matches("[0-9]{1,9}")) {
            throw bad(FIELD, "version_policy.specific.versions: '" + node + "' is not a version number");
        }
        return Integer.parseInt(text);
    }

    private static ModelServerException bad(String field, String description) {
        return ModelServerException.badField(ErrorCode.INVALID_PARAMETER, field, description);
    }
}
