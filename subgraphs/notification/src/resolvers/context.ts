import type { BaseContext } from '@shop/kernel';
import type { AuditService } from '../service/audit.service';
import type { EmailService } from '../service/email.service';

export interface NotificationContext extends BaseContext {
  emails: EmailService;
  audit: AuditService;
}
