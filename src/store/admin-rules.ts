/**
 * The rules of remote administration every Store applies the same way, inside the transaction
 * that makes a change: names unique, one admin per subject and provisioner, and always at least
 * one super admin left. Here: the refusals, worded once.
 */
import { CaError } from '../errors.js';
import type { AdminType, StoredAdmin } from './types.js';

/** step-ca's first super admin when nobody else is named (`ca init --remote-management`, the first start with enableAdmin). */
export const DEFAULT_ADMIN_SUBJECT = 'step';

export function provisionerNameTaken(name: string): CaError {
  return new CaError('ERR_PROVISIONER_EXISTS', `a provisioner named "${name}" already exists`, { status: 400 });
}

export function unknownProvisionerId(id: string): CaError {
  return new CaError('ERR_NOT_FOUND', `provisioner ${id} not found`, { status: 404 });
}

export function unknownProvisionerForAdmin(id: string): CaError {
  return new CaError('ERR_BAD_REQUEST', `provisioner ${id} not found`, { status: 400 });
}

export function unknownAdmin(id: string): CaError {
  return new CaError('ERR_NOT_FOUND', `admin ${id} not found`, { status: 404 });
}

export function adminExists(subject: string): CaError {
  return new CaError('ERR_BAD_REQUEST', `admin ${subject} already exists on that provisioner`, { status: 400 });
}

export function noSuperAdminLeft(what: string): CaError {
  return new CaError('ERR_BAD_REQUEST', `${what} would leave no super admin; make another admin a super admin first`, { status: 400 });
}

export function isAdminType(v: unknown): v is AdminType {
  return v === 'ADMIN' || v === 'SUPER_ADMIN';
}

/** Whether a super admin remains among `admins` once those `gone` picks are removed. */
export function superAdminRemains(admins: readonly StoredAdmin[], gone: (a: StoredAdmin) => boolean): boolean {
  return admins.some((a) => a.type === 'SUPER_ADMIN' && !gone(a));
}
