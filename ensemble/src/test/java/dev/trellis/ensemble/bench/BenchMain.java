package dev.trellis.ensemble.bench;

import java.io.File;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

/**
 * Starts JMH from {@code mvn exec:java}: that plugin runs in Maven's JVM with the project's classpath
 * in a class loader, not in {@code java.class.path}, so JMH's forked JVMs would not find the
 * benchmarks. We copy the class loader's URLs into {@code java.class.path} first.
 */
public final class BenchMain {
    private BenchMain() {}

    public static void main(String[] args) throws Exception {
        List<String> entries = new ArrayList<>();
        ClassLoader loader = Thread.currentThread().getContextClassLoader();
        while (loader != null) {
            if (loader instanceof URLClassLoader urls) {
                for (URL url : urls.getURLs()) {
                    try {
                        entries.add(Paths.get(url.toURI()).toString());
                    } catch (URISyntaxException | IllegalArgumentException e) {
                        // not a file: skip
                    }
                }
            }
            loader = loader.getParent();
        }
        if (!entries.isEmpty()) {
            System.setProperty("java.class.path", String.join(File.pathSeparator, entries));
        }
        org.openjdk.jmh.Main.main(args);
    }
}
