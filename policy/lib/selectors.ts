import type { LabelSelector, Labels } from "./k8s";
import { asArray } from "./k8s";

/*
 * Selector matching with three outcomes: true, false, or undefined when a value it depends on is
 * not known yet (a preview), in which case a rule must not report anything.
 */

/** A Service-style equality selector (`spec.selector`) against pod labels. */
export function mapSelects(selector: Labels, labels: Labels): boolean | undefined {
  let known = true;
  for (const [key, wanted] of Object.entries(selector)) {
    if (!(key in labels)) return false;
    const actual = labels[key];
    if (wanted === undefined || actual === undefined) known = false;
    else if (wanted !== actual) return false;
  }
  return known ? true : undefined;
}

/** A `metav1.LabelSelector` (matchLabels and matchExpressions) against pod labels. */
export function labelSelectorSelects(selector: LabelSelector, labels: Labels): boolean | undefined {
  let result = mapSelects(selector.matchLabels ?? {}, labels);
  if (result === false) return false;
  for (const expression of asArray(selector.matchExpressions)) {
    const key = expression.key;
    const values = asArray(expression.values);
    if (key === undefined) return undefined;
    const present = key in labels;
    const value = labels[key];
    let outcome: boolean | undefined;
    switch (expression.operator) {
      case "Exists":
        outcome = present;
        break;
      case "DoesNotExist":
        outcome = !present;
        break;
      case "In":
        outcome = !present ? false : value === undefined ? undefined : values.includes(value);
        break;
      case "NotIn":
        outcome = !present || (value === undefined ? undefined : !values.includes(value));
        break;
      default:
        outcome = undefined;
    }
    if (outcome === false) return false;
    if (outcome === undefined) result = undefined;
  }
  return result;
}

/** True for a selector that selects every pod (`{}` or absent): the default-deny shape. */
export function isEmptySelector(selector: LabelSelector | undefined): boolean {
  return (
    Object.keys(selector?.matchLabels ?? {}).length === 0 &&
    asArray(selector?.matchExpressions).length === 0
  );
}

/** Whether two objects share a namespace; undefined when either is not known. */
export function sameNamespace(a: string | undefined, b: string | undefined): boolean | undefined {
  return a === undefined || b === undefined ? undefined : a === b;
}

/** Both must hold; false wins over unknown. */
export function both(a: boolean | undefined, b: boolean | undefined): boolean | undefined {
  if (a === false || b === false) return false;
  return a === true && b === true ? true : undefined;
}
