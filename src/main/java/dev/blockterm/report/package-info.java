/**
 * What compression did and cost, per layer and in total: the records, a terminal table and JSON.
 * Plain data, no dependency on the rest of the tool.
 */
package dev.blockterm.report;
