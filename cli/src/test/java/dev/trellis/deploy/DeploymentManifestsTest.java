package dev.trellis.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.reflect.Constructor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import picocli.CommandLine;

/**
 * Checks that the Dockerfiles, the compose file and the Kubernetes manifests agree with the servers'
 * real command-line options: every flag exists, container ports equal the ports the servers listen
 * on, probes hit the gRPC port, the headless service matches the router's upstream, and the admin
 * token mount matches --admin-token-file. (Docker itself is not available to the tests.)
 */
class DeploymentManifestsTest {
    private static final Path DOCKER = Path.of(System.getProperty("user.dir")).resolveSibling("docker");
    private static final String ROUTER_MAIN = "dev.trellis.router.RouterMain";
    private static final String MODEL_SERVER_MAIN = "dev.trellis.modelserver.ModelServerMain";
    private static final String MODEL_SERVER_COMMAND = "dev.trellis.modelserver.ModelServerCommand";

    // ---------------------------------------------------------------------------------------------
    // The servers' real options
    // ---------------------------------------------------------------------------------------------

    /** Parses args with the server's own picocli command; unknown flags fail the test with picocli's message. */
    private static CommandLine.ParseResult parse(String server, List<String> args) {
        CommandLine cli = new CommandLine(newCommand(server.equals("router") ? ROUTER_MAIN : MODEL_SERVER_COMMAND));
        try {
            return cli.parseArgs(args.toArray(String[]::new));
        } catch (CommandLine.ParameterException e) {
            throw new AssertionError(server + " rejects " + args + ": " + e.getMessage(), e);
        }
    }

    private static Object newCommand(String className) {
        try {
            Constructor<?> constructor = Class.forName(className).getDeclaredConstructor();
            constructor.setAccessible(true);
            return constructor.newInstance();
        } catch (ReflectiveOperationException e) {
            throw new AssertionError("cannot create " + className + " (is the module installed?)", e);
        }
    }

    private static int intOption(CommandLine.ParseResult parsed, String name) {
        Object value = parsed.commandSpec().findOption(name).getValue();
        return Integer.parseInt(String.valueOf(value));
    }

    private static String stringOption(CommandLine.ParseResult parsed, String name) {
        CommandLine.Model.OptionSpec option = parsed.commandSpec().findOption(name);
        assertThat(option).as("option " + name).isNotNull();
        Object value = option.getValue();
        if (value instanceof List<?> list) {
            return list.isEmpty() ? null : String.valueOf(list.get(0));
        }
        return value == null ? null : String.valueOf(value);
    }

    @SuppressWarnings("unchecked")
    private static List<String> stringListOption(CommandLine.ParseResult parsed, String name) {
        Object value = parsed.commandSpec().findOption(name).getValue();
        if (value instanceof List<?> list) {
            return list.stream().map(String::valueOf).toList();
        }
        return value == null ? List.of() : List.of(String.valueOf(value));
    }

    // ---------------------------------------------------------------------------------------------
    // Kubernetes
    // ---------------------------------------------------------------------------------------------

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> k8sObjects() throws IOException {
        List<Map<String, Object>> objects = new ArrayList<>();
        try (Stream<Path> files = Files.list(DOCKER.resolve("k8s"))) {
            for (Path file :
                    files.filter(f -> f.toString().endsWith(".yaml")).sorted().toList()) {
                for (Object doc : new Yaml(new SafeConstructor(new LoaderOptions())).loadAll(Files.readString(file))) {
                    if (doc != null) {
                        Map<String, Object> object = (Map<String, Object>) doc;
                        assertThat(object).as(file + " document").containsKeys("apiVersion", "kind");
                        objects.add(object);
                    }
                }
            }
        }
        return objects;
    }

    private static Map<String, Object> find(List<Map<String, Object>> objects, String kind, String name) {
        return objects.stream()
                .filter(o -> kind.equals(o.get("kind")) && name.equals(get(o, "metadata", "name")))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no " + kind + " " + name));
    }

    @SuppressWarnings("unchecked")
    private static <T> T get(Object node, Object... path) {
        Object current = node;
        for (Object key : path) {
            if (current == null) {
                return null;
            }
            current = key instanceof Integer i
                    ? ((List<Object>) current).get(i)
                    : ((Map<String, Object>) current).get(key);
        }
        return (T) current;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> container(Map<String, Object> deployment) {
        List<Object> containers = get(deployment, "spec", "template", "spec", "containers");
        assertThat(containers).hasSize(1);
        return (Map<String, Object>) containers.get(0);
    }

    private static int containerPort(Map<String, Object> container, String name) {
        List<Map<String, Object>> ports = get(container, "ports");
        return ports.stream()
                .filter(p -> name.equals(p.get("name")))
                .map(p -> (Integer) p.get("containerPort"))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no container port named " + name));
    }

    @Test
    void kustomization_listsEveryManifest() throws IOException {
        Map<String, Object> kustomization = new Yaml(new SafeConstructor(new LoaderOptions()))
                .load(Files.readString(DOCKER.resolve("k8s/kustomization.yaml")));
        List<String> resources = get(kustomization, "resources");
        List<String> files;
        try (Stream<Path> list = Files.list(DOCKER.resolve("k8s"))) {
            files = list.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".yaml") && !n.equals("kustomization.yaml"))
                    .sorted()
                    .toList();
        }

        assertThat(resources).containsExactlyInAnyOrderElementsOf(files);
    }

    @Test
    void k8s_serverFlagsPortsAndProbesMatchTheServers() throws IOException {
        List<Map<String, Object>> objects = k8sObjects();
        for (String[] deployment :
                new String[][] {{"trellis-router", "router"}, {"trellis-model-server", "model-server"}}) {
            Map<String, Object> container = container(find(objects, "Deployment", deployment[0]));
            List<String> args = get(container, "args");
            CommandLine.ParseResult parsed = parse(deployment[1], args);
            int port = intOption(parsed, "--port");
            int metricsPort = intOption(parsed, "--metrics-port");

            assertThat(containerPort(container, "grpc"))
                    .as(deployment[0] + " grpc port")
                    .isEqualTo(port);
            assertThat(containerPort(container, "metrics"))
                    .as(deployment[0] + " metrics port")
                    .isEqualTo(metricsPort);
            for (String probe : List.of("readinessProbe", "startupProbe")) {
                if (container.containsKey(probe)) {
                    assertThat((Integer) get(container, probe, "grpc", "port"))
                            .as(deployment[0] + " " + probe)
                            .isEqualTo(port);
                }
            }
            assertThat(container).containsKey("readinessProbe");
            Integer livenessPort = Objects.requireNonNullElse(
                    get(container, "livenessProbe", "tcpSocket", "port"),
                    get(container, "livenessProbe", "grpc", "port"));
            assertThat(livenessPort).as(deployment[0] + " liveness").isEqualTo(port);
            assertThat((Map<String, Object>) get(container, "resources", "requests"))
                    .containsKeys("cpu", "memory");
            assertThat((Map<String, Object>) get(container, "resources", "limits"))
                    .containsKeys("cpu", "memory");
            String prometheusPort = get(
                    find(objects, "Deployment", deployment[0]),
                    "spec",
                    "template",
                    "metadata",
                    "annotations",
                    "prometheus.io/port");
            assertThat(Integer.parseInt(prometheusPort)).isEqualTo(metricsPort);
        }
    }

    @Test
    void k8s_headlessServiceMatchesRouterUpstream() throws IOException {
        List<Map<String, Object>> objects = k8sObjects();
        Map<String, Object> router = container(find(objects, "Deployment", "trellis-router"));
        CommandLine.ParseResult parsed = parse("router", get(router, "args"));
        List<String> upstreams = stringListOption(parsed, "--upstream");
        assertThat(upstreams).hasSize(1);
        Matcher m = Pattern.compile("dns:///([a-z0-9-]+)(\\.([a-z0-9-]+)\\.svc\\.cluster\\.local)?:(\\d+)")
                .matcher(upstreams.get(0));
        assertThat(m.matches()).as("upstream " + upstreams.get(0)).isTrue();

        Map<String, Object> headless = find(objects, "Service", m.group(1));
        assertThat((String) get(headless, "spec", "clusterIP")).isEqualTo("None");
        if (m.group(3) != null) {
            Map<String, Object> kustomization = new Yaml(new SafeConstructor(new LoaderOptions()))
                    .load(Files.readString(DOCKER.resolve("k8s/kustomization.yaml")));
            assertThat(m.group(3)).isEqualTo(kustomization.get("namespace"));
        }
        int upstreamPort = Integer.parseInt(m.group(4));
        assertThat((Integer) get(headless, "spec", "ports", 0, "port")).isEqualTo(upstreamPort);

        Map<String, Object> modelServerDeployment = find(objects, "Deployment", "trellis-model-server");
        Map<String, Object> modelServer = container(modelServerDeployment);
        int modelServerPort = intOption(parse("model-server", get(modelServer, "args")), "--port");
        assertThat(upstreamPort).isEqualTo(modelServerPort);
        assertThat(containerPort(modelServer, (String) get(headless, "spec", "ports", 0, "targetPort")))
                .isEqualTo(modelServerPort);
        assertThat((Map<String, Object>) get(headless, "spec", "selector"))
                .isEqualTo(get(modelServerDeployment, "spec", "selector", "matchLabels"));
    }

    @Test
    void k8s_routerServiceTargetsItsPorts() throws IOException {
        List<Map<String, Object>> objects = k8sObjects();
        Map<String, Object> deployment = find(objects, "Deployment", "trellis-router");
        Map<String, Object> router = container(deployment);
        CommandLine.ParseResult parsed = parse("router", get(router, "args"));
        Map<String, Object> service = find(objects, "Service", "trellis-router");
        List<Map<String, Object>> ports = get(service, "spec", "ports");

        assertThat(ports).anySatisfy(p -> {
            assertThat(containerPort(router, (String) p.get("targetPort"))).isEqualTo(intOption(parsed, "--port"));
            assertThat(p.get("name")).isEqualTo("grpc");
        });
        assertThat(ports).anySatisfy(p -> {
            assertThat(containerPort(router, (String) p.get("targetPort")))
                    .isEqualTo(intOption(parsed, "--metrics-port"));
            assertThat(p.get("name")).isEqualTo("metrics");
        });
        assertThat((Map<String, Object>) get(service, "spec", "selector"))
                .isEqualTo(get(deployment, "spec", "selector", "matchLabels"));
    }

    @Test
    void k8s_adminTokenSecretMountMatchesFlag() throws IOException {
        List<Map<String, Object>> objects = k8sObjects();
        Map<String, Object> router = find(objects, "Deployment", "trellis-router");
        Map<String, Object> modelServer = find(objects, "Deployment", "trellis-model-server");

        String routerAdmin = secretKeyBehind(objects, router, "router", "--admin-token-file");
        // the control plane presents the model-servers' own admin token to load and unload versions
        String replicaAdmin = secretKeyBehind(objects, modelServer, "model-server", "--admin-token-file");
        String upstreamToken = secretKeyBehind(objects, router, "router", "--upstream-token-file");

        assertThat(upstreamToken).isEqualTo(replicaAdmin);
        assertThat(replicaAdmin).isNotEqualTo(routerAdmin);
    }

    /** The Secret and key mounted read-only where {@code flag} of the deployment's container points. */
    private static String secretKeyBehind(
            List<Map<String, Object>> objects, Map<String, Object> deployment, String command, String flag)
            throws IOException {
        Map<String, Object> container = container(deployment);
        Path tokenFile = Path.of(stringOption(parse(command, get(container, "args")), flag));
        List<Map<String, Object>> mounts = get(container, "volumeMounts");
        Map<String, Object> mount = mounts.stream()
                .filter(v -> Path.of((String) v.get("mountPath")).equals(tokenFile.getParent()))
                .findFirst()
                .orElseThrow(() -> new AssertionError(flag + ": no volume mounted at " + tokenFile.getParent()));
        List<Map<String, Object>> volumes = get(deployment, "spec", "template", "spec", "volumes");
        Map<String, Object> volume = volumes.stream()
                .filter(v -> mount.get("name").equals(v.get("name")))
                .findFirst()
                .orElseThrow();
        String secretName = get(volume, "secret", "secretName");
        Map<String, Object> secret = find(objects, "Secret", secretName);
        Map<String, Object> data = secret.containsKey("stringData") ? get(secret, "stringData") : get(secret, "data");

        assertThat(data).as(flag).containsKey(tokenFile.getFileName().toString());
        assertThat(mount.get("readOnly")).as(flag).isEqualTo(true);
        return secretName + "/" + tokenFile.getFileName();
    }

    @Test
    void k8s_modelsVolumePdbAndHpa() throws IOException {
        List<Map<String, Object>> objects = k8sObjects();
        Map<String, Object> deployment = find(objects, "Deployment", "trellis-model-server");
        Map<String, Object> modelServer = container(deployment);
        String repo = stringOption(parse("model-server", get(modelServer, "args")), "--repo");
        List<Map<String, Object>> mounts = get(modelServer, "volumeMounts");
        Map<String, Object> mount = mounts.stream()
                .filter(v -> repo.equals(v.get("mountPath")))
                .findFirst()
                .orElseThrow(() -> new AssertionError("--repo " + repo + " is not a mounted volume"));
        List<Map<String, Object>> volumes = get(deployment, "spec", "template", "spec", "volumes");
        Map<String, Object> volume = volumes.stream()
                .filter(v -> mount.get("name").equals(v.get("name")))
                .findFirst()
                .orElseThrow();
        Map<String, Object> pvc =
                find(objects, "PersistentVolumeClaim", get(volume, "persistentVolumeClaim", "claimName"));
        Map<String, Object> pdb = find(objects, "PodDisruptionBudget", "trellis-model-server");
        Map<String, Object> hpa = find(objects, "HorizontalPodAutoscaler", "trellis-model-server");

        assertThat(mount.get("readOnly")).isEqualTo(true);
        assertThat((List<String>) get(pvc, "spec", "accessModes")).containsExactly("ReadOnlyMany");
        assertThat((Map<String, Object>) get(pdb, "spec", "selector", "matchLabels"))
                .isEqualTo(get(deployment, "spec", "selector", "matchLabels"));
        assertThat(hpa.get("apiVersion")).isEqualTo("autoscaling/v2");
        assertThat((String) get(hpa, "spec", "scaleTargetRef", "name")).isEqualTo("trellis-model-server");
        assertThat((String) get(hpa, "spec", "metrics", 0, "resource", "name")).isEqualTo("cpu");
        assertThat(((Map<String, Object>) get(modelServer, "env", 0)))
                .containsEntry("name", "OMP_NUM_THREADS")
                .containsEntry("value", "1");
    }

    private static String storeOf(Map<String, Object> router) {
        return stringOption(parse("router", get(router, "args")), "--store");
    }

    /** Resolves {@code $(NAME)} in an argument from the container's env entries that read a Secret. */
    private static String resolveFromSecret(
            List<Map<String, Object>> objects, Map<String, Object> container, String value) {
        Matcher m = Pattern.compile("\\$\\(([A-Z_]+)\\)").matcher(value);
        if (!m.matches()) {
            return value;
        }
        List<Map<String, Object>> env = get(container, "env");
        Map<String, Object> entry = env.stream()
                .filter(e -> m.group(1).equals(e.get("name")))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no env " + m.group(1)));
        Map<String, Object> ref = get(entry, "valueFrom", "secretKeyRef");
        assertThat(ref).as(m.group(1) + " comes from a Secret").isNotNull();
        Map<String, Object> secret = find(objects, "Secret", (String) ref.get("name"));
        Map<String, Object> data = get(secret, "stringData");
        return (String) data.get(ref.get("key"));
    }

    /** The volume mounted at the folder of a file named by a flag. */
    private static Map<String, Object> volumeHolding(Map<String, Object> deployment, Path file) {
        Map<String, Object> container = container(deployment);
        List<Map<String, Object>> mounts = get(container, "volumeMounts");
        Map<String, Object> mount = mounts.stream()
                .filter(v -> Path.of((String) v.get("mountPath")).equals(file.getParent()))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no volume mounted at " + file.getParent()));
        List<Map<String, Object>> volumes = get(deployment, "spec", "template", "spec", "volumes");
        return volumes.stream()
                .filter(v -> mount.get("name").equals(v.get("name")))
                .findFirst()
                .orElseThrow();
    }

    @Test
    void k8s_routersAreHighlyAvailableOnPostgresFromASecret() throws IOException {
        List<Map<String, Object>> objects = k8sObjects();
        Map<String, Object> deployment = find(objects, "Deployment", "trellis-router");
        Map<String, Object> router = container(deployment);
        CommandLine.ParseResult parsed = parse("router", get(router, "args"));
        String store = resolveFromSecret(objects, router, storeOf(router));

        assertThat(store).startsWith("postgresql://");
        assertThat(dev.trellis.experiments.store.PostgresLocation.parse(store).user())
                .isNotEmpty(); // no password in it
        assertThat((Integer) get(deployment, "spec", "replicas")).isGreaterThanOrEqualTo(2);
        assertThat((Integer) get(deployment, "spec", "strategy", "rollingUpdate", "maxUnavailable"))
                .isZero();
        Map<String, Object> pdb = find(objects, "PodDisruptionBudget", "trellis-router");
        assertThat((Map<String, Object>) get(pdb, "spec", "selector", "matchLabels"))
                .isEqualTo(get(deployment, "spec", "selector", "matchLabels"));

        Path passwordFile = Path.of(stringOption(parsed, "--store-password-file"));
        Map<String, Object> passwordVolume = volumeHolding(deployment, passwordFile);
        Map<String, Object> secret = find(objects, "Secret", get(passwordVolume, "secret", "secretName"));
        List<Map<String, Object>> items = get(passwordVolume, "secret", "items");
        assertThat(items)
                .anySatisfy(i -> assertThat(i.get("path"))
                        .isEqualTo(passwordFile.getFileName().toString()));
        assertThat((Map<String, Object>) get(secret, "stringData")).containsKeys("url", "password");

        // preStop and --shutdown-delay: the pod leaves the endpoints, then reports NOT_SERVING, then drains
        List<String> preStop = get(router, "lifecycle", "preStop", "exec", "command");
        assertThat(preStop).hasSize(2).first().isEqualTo("sleep");
        java.time.Duration delay = dev.trellis.common.text.DurationText.parse(stringOption(parsed, "--shutdown-delay"));
        java.time.Duration grace = dev.trellis.common.text.DurationText.parse(stringOption(parsed, "--shutdown-grace"));
        assertThat(Long.parseLong(preStop.get(1))).isEqualTo(delay.toSeconds());
        assertThat((Integer) get(deployment, "spec", "template", "spec", "terminationGracePeriodSeconds"))
                .isGreaterThan((int) (Long.parseLong(preStop.get(1)) + delay.toSeconds() + grace.toSeconds()));
    }

    @Test
    void k8s_sqliteRouterKeepsItsFileOnAPersistentVolumeClaim() throws IOException {
        Yaml yaml = new Yaml(new SafeConstructor(new LoaderOptions()));
        Path overlay = DOCKER.resolve("k8s/sqlite");
        Map<String, Object> kustomization = yaml.load(Files.readString(overlay.resolve("kustomization.yaml")));
        List<String> resources = get(kustomization, "resources");
        assertThat(resources).contains("../");
        List<Map<String, Object>> objects = new ArrayList<>(k8sObjects());
        for (String resource : resources) {
            if (!resource.startsWith("..")) {
                objects.add(yaml.load(Files.readString(overlay.resolve(resource))));
            }
        }
        Map<String, Object> deployment = find(objects, "Deployment", "trellis-router");
        List<Map<String, Object>> patches = get(kustomization, "patches");
        for (Map<String, Object> patch : patches) {
            deployment = StrategicMerge.apply(
                    deployment, yaml.load(Files.readString(overlay.resolve((String) patch.get("path")))));
        }
        Map<String, Object> router = container(deployment);
        Path file = Path.of(storeOf(router));
        Map<String, Object> volume = volumeHolding(deployment, file);

        assertThat(storeOf(router)).doesNotStartWith("postgresql://");
        assertThat((Integer) get(deployment, "spec", "replicas")).isEqualTo(1);
        assertThat((String) get(deployment, "spec", "strategy", "type")).isEqualTo("Recreate");
        assertThat(volume).doesNotContainKey("emptyDir").containsKey("persistentVolumeClaim");
        Map<String, Object> pvc =
                find(objects, "PersistentVolumeClaim", get(volume, "persistentVolumeClaim", "claimName"));
        assertThat((List<String>) get(pvc, "spec", "accessModes")).containsExactly("ReadWriteOnce");
        assertThat(get(router, "env") == null).isTrue();
        List<Map<String, Object>> volumes = get(deployment, "spec", "template", "spec", "volumes");
        assertThat(volumes).noneMatch(v -> "store-password".equals(v.get("name")));
    }

    /** The part of kustomize's strategic merge this repository's patches use. */
    static final class StrategicMerge {
        @SuppressWarnings("unchecked")
        static Map<String, Object> apply(Map<String, Object> base, Map<String, Object> patch) {
            Map<String, Object> result = new java.util.LinkedHashMap<>(base);
            for (Map.Entry<String, Object> e : patch.entrySet()) {
                Object value = e.getValue();
                Object current = result.get(e.getKey());
                if (value == null) {
                    result.remove(e.getKey()); // null deletes
                } else if (value instanceof Map<?, ?> m && current instanceof Map<?, ?> c) {
                    result.put(e.getKey(), apply((Map<String, Object>) c, (Map<String, Object>) m));
                } else if (value instanceof List<?> l && current instanceof List<?> c && isNamed(l) && isNamed(c)) {
                    result.put(e.getKey(), mergeNamed((List<Map<String, Object>>) c, (List<Map<String, Object>>) l));
                } else {
                    result.put(e.getKey(), value); // scalars and plain lists (args) are replaced
                }
            }
            return result;
        }

        private static boolean isNamed(List<?> list) {
            return !list.isEmpty() && list.stream().allMatch(i -> i instanceof Map<?, ?> m && m.containsKey("name"));
        }

        private static List<Map<String, Object>> mergeNamed(
                List<Map<String, Object>> base, List<Map<String, Object>> patch) {
            List<Map<String, Object>> result = new ArrayList<>(base);
            for (Map<String, Object> item : patch) {
                int index = -1;
                for (int i = 0; i < result.size(); i++) {
                    if (item.get("name").equals(result.get(i).get("name"))) {
                        index = i;
                    }
                }
                if ("delete".equals(item.get("$patch"))) {
                    if (index >= 0) {
                        result.remove(index);
                    }
                } else if (index >= 0) {
                    result.set(index, apply(result.get(index), item));
                } else {
                    result.add(item);
                }
            }
            return result;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Compose
    // ---------------------------------------------------------------------------------------------

    @Test
    void compose_flagsPortsUpstreamsAndSecretMatchTheServers() throws IOException {
        Map<String, Object> compose = new Yaml(new SafeConstructor(new LoaderOptions()))
                .load(Files.readString(DOCKER.resolve("compose.yaml")));
        Map<String, Object> services = get(compose, "services");
        List<String> modelServers = List.of("model-server-1", "model-server-2");
        for (String name : modelServers) {
            Map<String, Object> service = get(services, name);
            CommandLine.ParseResult parsed = parse("model-server", get(service, "command"));
            int port = intOption(parsed, "--port");
            assertThat((List<String>) get(service, "expose"))
                    .contains(Integer.toString(port), Integer.toString(intOption(parsed, "--metrics-port")));
            assertThat(String.join(" ", (List<String>) get(service, "healthcheck", "test")))
                    .contains("/" + port);
            assertThat((List<String>) get(service, "volumes"))
                    .anyMatch(v -> v.endsWith(":" + stringOption(parsed, "--repo") + ":ro"));
        }

        Map<String, Object> router = get(services, "router");
        CommandLine.ParseResult parsed = parse("router", get(router, "command"));
        int port = intOption(parsed, "--port");
        assertThat((List<String>) get(router, "ports"))
                .contains(
                        port + ":" + port,
                        intOption(parsed, "--metrics-port") + ":" + intOption(parsed, "--metrics-port"));
        assertThat(String.join(" ", (List<String>) get(router, "healthcheck", "test")))
                .contains("/" + port);
        List<String> upstreams = stringListOption(parsed, "--upstream");
        assertThat(upstreams).hasSize(modelServers.size());
        for (String upstream : upstreams) {
            String host = upstream.substring(0, upstream.lastIndexOf(':'));
            int upstreamPort = Integer.parseInt(upstream.substring(upstream.lastIndexOf(':') + 1));
            assertThat(modelServers).contains(host);
            assertThat(upstreamPort)
                    .isEqualTo(intOption(parse("model-server", get(services, host, "command")), "--port"));
        }
        Path tokenFile = Path.of(stringOption(parsed, "--admin-token-file"));
        assertThat(tokenFile.getParent()).isEqualTo(Path.of("/run/secrets"));
        assertThat((List<String>) get(router, "secrets"))
                .contains(tokenFile.getFileName().toString());
        assertThat((Map<String, Object>) get(compose, "secrets"))
                .containsKey(tokenFile.getFileName().toString());
        // the routers' control plane presents the model-servers' admin token
        Path upstreamToken = Path.of(stringOption(parsed, "--upstream-token-file"));
        assertThat((List<String>) get(router, "secrets"))
                .contains(upstreamToken.getFileName().toString());
        for (String name : modelServers) {
            Map<String, Object> service = get(services, name);
            Path replicaToken =
                    Path.of(stringOption(parse("model-server", get(service, "command")), "--admin-token-file"));
            assertThat(replicaToken).isEqualTo(upstreamToken).isNotEqualTo(tokenFile);
            assertThat((List<String>) get(service, "secrets"))
                    .contains(replicaToken.getFileName().toString());
        }
        assertThat((Map<String, Object>) get(compose, "secrets"))
                .containsKey(upstreamToken.getFileName().toString());

        assertThat(stringOption(parsed, "--store")).startsWith("postgresql://");
        String storeHost = dev.trellis.experiments.store.PostgresLocation.parse(stringOption(parsed, "--store"))
                .host();
        assertThat(services).containsKey(storeHost);
        Path passwordFile = Path.of(stringOption(parsed, "--store-password-file"));
        assertThat(passwordFile.getParent()).isEqualTo(Path.of("/run/secrets"));
        assertThat((List<String>) get(router, "secrets"))
                .contains(passwordFile.getFileName().toString());
        assertThat((List<String>) get(services, storeHost, "secrets"))
                .contains(passwordFile.getFileName().toString());
        assertThat((Map<String, Object>) get(compose, "secrets"))
                .containsKey(passwordFile.getFileName().toString());
        assertThat((Map<String, Object>) get(services, "router-2")).isNotNull();

        Map<String, Object> trainer = get(services, "trainer");
        assertThat(String.join(" ", (List<String>) get(trainer, "entrypoint")))
                .contains("dev.trellis.ensemble.cli.EnsembleMain");
    }

    // ---------------------------------------------------------------------------------------------
    // Dockerfiles
    // ---------------------------------------------------------------------------------------------

    private record Dockerfile(String text, List<String> entrypoint, List<String> cmd, List<Integer> exposed) {
        static Dockerfile read(Path file) throws IOException {
            String text = Files.readString(file);
            return new Dockerfile(
                    text,
                    jsonArray(text, "ENTRYPOINT"),
                    jsonArray(text, "CMD"),
                    Pattern.compile("(?m)^EXPOSE (.+)$")
                            .matcher(text)
                            .results()
                            .flatMap(r -> Stream.of(r.group(1).trim().split("\\s+")))
                            .map(Integer::parseInt)
                            .toList());
        }

        private static List<String> jsonArray(String text, String instruction) {
            Matcher m = Pattern.compile("(?m)^" + instruction + " \\[(.*)]$").matcher(text);
            assertThat(m.find()).as(instruction + " in exec form").isTrue();
            return Pattern.compile("\"([^\"]*)\"")
                    .matcher(m.group(1))
                    .results()
                    .map(r -> r.group(1))
                    .toList();
        }
    }

    @Test
    void dockerfiles_mainClassFlagsAndPortsMatchTheServers() throws Exception {
        for (String[] image : new String[][] {
            {"router.Dockerfile", "router", ROUTER_MAIN}, {"model-server.Dockerfile", "model-server", MODEL_SERVER_MAIN}
        }) {
            Dockerfile dockerfile = Dockerfile.read(DOCKER.resolve(image[0]));
            CommandLine.ParseResult parsed = parse(image[1], dockerfile.cmd());

            assertThat(dockerfile.entrypoint())
                    .as(image[0])
                    .containsSubsequence("java", "-cp")
                    .endsWith(image[2]);
            Class.forName(image[2]).getMethod("main", String[].class);
            assertThat(dockerfile.exposed())
                    .as(image[0])
                    .contains(intOption(parsed, "--port"), intOption(parsed, "--metrics-port"));
            assertThat(dockerfile.text())
                    .contains(
                            "FROM maven:3.9-eclipse-temurin-17 AS build",
                            "FROM eclipse-temurin:17-jre",
                            "mvn -B -q -pl " + image[1] + " -am package -DskipTests",
                            "-XX:+ExitOnOutOfMemoryError",
                            "/src/" + image[1] + "/target/lib/");
            assertThat(dockerfile.text()).containsPattern("(?m)^USER 10001");
        }
        String modelServer = Files.readString(DOCKER.resolve("model-server.Dockerfile"));
        assertThat(modelServer).contains("libgomp1", "OMP_NUM_THREADS=1");
    }

    // ---------------------------------------------------------------------------------------------
    // Heap sizes and collector: the launcher's, the images' and the manifests' agree
    // ---------------------------------------------------------------------------------------------

    private static final Path LAUNCHER = DOCKER.resolveSibling("trellis");

    /** The launcher's default heap per role variable (TRELLIS_ROUTER_HEAP -> 1536m, ...). */
    private static Map<String, String> launcherHeaps() throws IOException {
        Map<String, String> heaps = new java.util.HashMap<>();
        Pattern.compile("\\$\\{(TRELLIS_[A-Z_]+_HEAP):-([0-9]+[kmg])}")
                .matcher(Files.readString(LAUNCHER))
                .results()
                .forEach(r -> heaps.put(r.group(1), r.group(2)));
        assertThat(heaps)
                .containsOnlyKeys(
                        "TRELLIS_ROUTER_HEAP", "TRELLIS_MODEL_SERVER_HEAP", "TRELLIS_TRAINER_HEAP", "TRELLIS_CLI_HEAP");
        return heaps;
    }

    /** The collector the launcher gives the servers (run_module's non-CLI branch). */
    private static String launcherServerCollector() throws IOException {
        Matcher m = Pattern.compile("(?m)^    jvm\\+=\\((-XX:\\+Use[A-Za-z0-9]+GC)\\)$")
                .matcher(Files.readString(LAUNCHER));
        assertThat(m.find()).as("the servers' collector in the launcher").isTrue();
        return m.group(1);
    }

    /** The first metaspace high-water mark the launcher gives the servers. */
    private static String launcherServerMetaspace() throws IOException {
        Matcher m = Pattern.compile("(?m)^    jvm\\+=\\((-XX:MetaspaceSize=[0-9]+[kmg])\\)$")
                .matcher(Files.readString(LAUNCHER));
        assertThat(m.find()).as("the servers' metaspace size in the launcher").isTrue();
        return m.group(1);
    }

    /** The JVM options of a Dockerfile's JAVA_TOOL_OPTIONS. */
    private static List<String> javaToolOptions(String dockerfile) throws IOException {
        Matcher m =
                Pattern.compile("JAVA_TOOL_OPTIONS=\"([^\"]*)\"").matcher(Files.readString(DOCKER.resolve(dockerfile)));
        assertThat(m.find()).as(dockerfile + " JAVA_TOOL_OPTIONS").isTrue();
        return List.of(m.group(1).trim().split("\\s+"));
    }

    /** Bytes of a JVM size (512m, 1g) or a Kubernetes quantity (512Mi, 1Gi). */
    static long bytes(String size) {
        Matcher m = Pattern.compile("([0-9]+)([kKmMgG])i?").matcher(size);
        assertThat(m.matches()).as("size " + size).isTrue();
        long n = Long.parseLong(m.group(1));
        return switch (Character.toLowerCase(m.group(2).charAt(0))) {
            case 'k' -> n << 10;
            case 'm' -> n << 20;
            default -> n << 30;
        };
    }

    @Test
    void heap_imagesUseTheLaunchersHeapAndCollector() throws IOException {
        Map<String, String> heaps = launcherHeaps();
        String collector = launcherServerCollector();
        String metaspace = launcherServerMetaspace();
        for (String[] image : new String[][] {
            {"router.Dockerfile", "TRELLIS_ROUTER_HEAP"}, {"model-server.Dockerfile", "TRELLIS_MODEL_SERVER_HEAP"}
        }) {
            String heap = heaps.get(image[1]);
            assertThat(javaToolOptions(image[0]))
                    .as(image[0])
                    .contains("-Xms" + heap, "-Xmx" + heap, collector, metaspace, "-XX:+ExitOnOutOfMemoryError")
                    .noneMatch(o -> o.startsWith("-XX:MaxRAMPercentage"));
        }
        // compose's one-shot trainer runs in the model-server image with the trainer's heap
        Map<String, Object> compose = new Yaml(new SafeConstructor(new LoaderOptions()))
                .load(Files.readString(DOCKER.resolve("compose.yaml")));
        String trainer = get(compose, "services", "trainer", "environment", "JAVA_TOOL_OPTIONS");
        assertThat(List.of(trainer.split("\\s+")))
                .contains(
                        "-Xms" + heaps.get("TRELLIS_TRAINER_HEAP"),
                        "-Xmx" + heaps.get("TRELLIS_TRAINER_HEAP"),
                        collector,
                        metaspace);
    }

    @Test
    void heap_k8sMemoryLeavesRoomBeyondTheHeap() throws IOException {
        Map<String, String> heaps = launcherHeaps();
        List<Map<String, Object>> objects = k8sObjects();
        for (String[] deployment : new String[][] {
            {"trellis-router", "TRELLIS_ROUTER_HEAP"}, {"trellis-model-server", "TRELLIS_MODEL_SERVER_HEAP"}
        }) {
            Map<String, Object> container = container(find(objects, "Deployment", deployment[0]));
            List<Map<String, Object>> env = Objects.requireNonNullElse(get(container, "env"), List.of());
            // the image's heap unless the manifest overrides JAVA_TOOL_OPTIONS
            assertThat(env).noneMatch(e -> "JAVA_TOOL_OPTIONS".equals(e.get("name")));
            long heap = bytes(heaps.get(deployment[1]));
            long limit = bytes(get(container, "resources", "limits", "memory"));
            long request = bytes(get(container, "resources", "requests", "memory"));
            // metaspace, threads, Netty's direct buffers, the model-server's native libraries and models
            assertThat(limit).as(deployment[0] + " memory limit").isGreaterThanOrEqualTo(2 * heap);
            assertThat(request).as(deployment[0] + " memory request").isGreaterThan(heap);
        }
    }

    @Test
    void heap_launcherDefaultsOverridesAndBadSizes() throws Exception {
        assertThat(heapFor("router", Map.of())).isEqualTo("1536m");
        assertThat(heapFor("model-server", Map.of())).isEqualTo("1g");
        assertThat(heapFor("ensemble", Map.of())).isEqualTo("1g");
        assertThat(heapFor("cli", Map.of())).isEqualTo("256m");
        assertThat(heapFor("router", Map.of("TRELLIS_ROUTER_HEAP", "768m"))).isEqualTo("768m");
        assertThat(heapFor("model-server", Map.of("TRELLIS_MODEL_SERVER_HEAP", "2g")))
                .isEqualTo("2g");
        assertThat(heapFor("ensemble", Map.of("TRELLIS_TRAINER_HEAP", "3g"))).isEqualTo("3g");
        assertThat(heapFor("cli", Map.of("TRELLIS_CLI_HEAP", "1g"))).isEqualTo("1g");
        assertThat(heapFor("router", Map.of("TRELLIS_ROUTER_HEAP", "lots")))
                .isEqualTo("exit 2: trellis: TRELLIS_ROUTER_HEAP must be a size such as 512m or 2g (got 'lots')");
    }

    /** Runs the launcher's heap_for function for a role; its output, or "exit N: stderr". */
    private static String heapFor(String role, Map<String, String> env) throws Exception {
        String script = "die() { echo \"trellis: $*\" >&2; exit 2; }\n"
                + Pattern.compile("(?ms)^heap_for\\(\\) \\{.*?^}$")
                        .matcher(Files.readString(LAUNCHER))
                        .results()
                        .findFirst()
                        .orElseThrow(() -> new AssertionError("no heap_for in the launcher"))
                        .group()
                + "\nheap_for " + role + "\n";
        ProcessBuilder builder = new ProcessBuilder("bash", "-c", script);
        builder.environment().keySet().removeIf(k -> k.startsWith("TRELLIS_"));
        builder.environment().putAll(env);
        Process process = builder.start();
        String out =
                new String(process.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).trim();
        String err =
                new String(process.getErrorStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).trim();
        assertThat(process.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        return process.exitValue() == 0 ? out : "exit " + process.exitValue() + ": " + err;
    }
}
