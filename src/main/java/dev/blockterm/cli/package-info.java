/**
 * The command line (picocli): {@code compress}, {@code inspect}, {@code verify}. Commands only
 * parse options, build the library's option records, call the library and print; the only
 * package that imports picocli.
 */
package dev.blockterm.cli;
