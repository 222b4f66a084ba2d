package dev.trellis.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * Reads definition files (experiments) as JSON or YAML into protobuf messages. YAML is converted to
 * JSON first, so both go through the proto3 JSON mapping and unknown fields are rejected the same way.
 */
final class Definitions {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Definitions() {}

    static <B extends Message.Builder> B read(Path file, B builder) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new TrellisCli.UsageException("cannot read " + file + ": " + e.getMessage());
        }
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        boolean yaml = name.endsWith(".yaml") || name.endsWith(".yml");
        return parse(text, yaml, file.toString(), builder);
    }

    static <B extends Message.Builder> B parse(String text, boolean yaml, String source, B builder) {
        String json = text;
        if (yaml) {
            try {
                Object tree = new Yaml(new SafeConstructor(new LoaderOptions())).load(text);
                if (!(tree instanceof java.util.Map)) {
                    throw new TrellisCli.UsageException(source + ": expected a YAML mapping at the top level");
                }
                json = JSON.writeValueAsString(tree);
            } catch (org.yaml.snakeyaml.error.YAMLException e) {
                throw new TrellisCli.UsageException(source + ": invalid YAML: " + firstLine(e.getMessage()));
            } catch (IOException e) {
                throw new TrellisCli.UsageException(source + ": " + e.getMessage());
            }
        }
        try {
            JsonFormat.parser().merge(json, builder);
        } catch (InvalidProtocolBufferException e) {
            throw new TrellisCli.UsageException(source + ": " + firstLine(e.getMessage())
                    + " (fields use the proto3 JSON names, e.g. minimumDetectableEffect or minimum_detectable_effect)");
        }
        return builder;
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "";
        }
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }
}
