package dev.blockterm.compress;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A staging folder leaves nothing behind: the folders it made for its root, and those of killed runs. */
class StagingTest {

    @TempDir
    Path dir;

    @Test
    void everyFolderMadeForTheRootGoesWithIt() {
        Path root = dir.resolve("new/a/b/c");
        try (Staging staging = new Staging(root)) {
            assertTrue(Files.isDirectory(staging.dir()));
            assertTrue(staging.dir().startsWith(root.toAbsolutePath()));
        }
        assertFalse(Files.exists(dir.resolve("new")), "a folder made for the root is left behind");
    }

    @Test
    void aFolderMadeForTheRootThatAnotherRunUsesStays() throws IOException {
        Path root = dir.resolve("new/a");
        try (Staging staging = new Staging(root)) {
            Files.createDirectory(dir.resolve("new/other")); // someone else's, made meanwhile
        }
        assertFalse(Files.exists(root));
        assertTrue(Files.isDirectory(dir.resolve("new/other")));
    }

    @Test
    void theFoldersOfRunsThatAreGoneAreSwept() throws Exception {
        Process done = new ProcessBuilder("true").start();
        done.waitFor();
        Path killed = Files.createDirectory(dir.resolve(Staging.prefix(done.pid()) + "123"));
        Files.writeString(killed.resolve("factors.bin"), "left by a SIGKILL");
        Path reused = Files.createDirectory(dir.resolve(Staging.prefix(ProcessHandle.current().pid()) + "7"));
        Files.setLastModifiedTime(reused, FileTime.from(Instant.EPOCH)); // older than this process: its id was reused
        Path live = Files.createDirectory(dir.resolve(Staging.prefix(ProcessHandle.current().pid()) + "456"));
        Path otherHost = Files.createDirectory(dir.resolve("blockterm-staging-" + done.pid() + "@elsewhere-9"));
        Path unnamed = Files.createDirectory(dir.resolve("blockterm-staging-42"));
        try (Staging staging = new Staging(dir)) {
            assertFalse(Files.exists(killed), "a folder of a process that is gone is left behind");
            assertFalse(Files.exists(reused), "a folder older than the live process of its id is left behind");
            assertTrue(Files.isDirectory(live), "a live process's folder is swept");
            assertTrue(Files.isDirectory(otherHost), "another host's folder is swept");
            assertTrue(Files.isDirectory(unnamed), "a folder not named with its process is swept");
            assertTrue(Files.isDirectory(staging.dir()));
        }
    }
}
