package dev.blockterm.fuzz;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** {@code onnx.checker.check_model} on many files in one python process (starting python per file is slow). */
final class PythonChecker {

    private static final String SCRIPT = String.join("\n",
            "import sys, onnx",
            "for path in sys.stdin.read().splitlines():",
            "    try:",
            "        onnx.checker.check_model(onnx.load(path), full_check=False)",
            "    except Exception as e:",
            "        print(path + '\\t' + str(e).splitlines()[0] if str(e) else path + '\\t' + type(e).__name__)");

    private PythonChecker() {
    }

    static boolean available() {
        try {
            Process p = new ProcessBuilder("/usr/bin/python3", "-c", "import onnx").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /** The files the checker refuses, with its first line of complaint. */
    static Map<Path, String> check(List<Path> files) throws IOException, InterruptedException {
        Map<Path, String> failures = new LinkedHashMap<>();
        if (files.isEmpty()) {
            return failures;
        }
        Process p = new ProcessBuilder("/usr/bin/python3", "-c", SCRIPT).redirectErrorStream(true).start();
        StringBuilder in = new StringBuilder();
        files.forEach(f -> in.append(f).append('\n'));
        p.getOutputStream().write(in.toString().getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(600, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("onnx.checker did not finish");
        }
        for (String line : out.split("\n")) {
            int tab = line.indexOf('\t');
            if (tab > 0) {
                failures.put(Path.of(line.substring(0, tab)), line.substring(tab + 1));
            }
        }
        return failures;
    }
}
